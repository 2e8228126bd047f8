// Table sorting: numbers numerically, text by Chinese collation (pinyin order where the runtime
// has ICU data), missing values (null/undefined/NaN) always last whatever the direction, and
// ties kept in their original order (tree order from the API).

const collator = new Intl.Collator('zh-Hans-CN', { numeric: true, sensitivity: 'base' })

function missing(v) {
  return v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))
}

export function compareValues(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  return collator.compare(String(a), String(b))
}

/**
 * @param {object[]} rows
 * @param {string|((row: object) => any)} key
 * @param {'asc'|'desc'} dir
 */
export function sortRows(rows, key, dir = 'asc') {
  const get = typeof key === 'function' ? key : (r) => r[key]
  const sign = dir === 'desc' ? -1 : 1
  return rows
    .map((row, i) => ({ row, i, v: get(row) }))
    .sort((x, y) => {
      const mx = missing(x.v)
      const my = missing(y.v)
      if (mx || my) return mx === my ? x.i - y.i : mx ? 1 : -1
      return sign * compareValues(x.v, y.v) || x.i - y.i
    })
    .map((x) => x.row)
}

/** Next sort state after clicking a column header: a new column starts descending for numbers. */
export function nextSort(state, key, numeric = true) {
  if (state.key === key) return { key, dir: state.dir === 'asc' ? 'desc' : 'asc' }
  return { key, dir: numeric ? 'desc' : 'asc' }
}
