const nf = new Intl.NumberFormat('zh-CN')

export function int(v) {
  return v === null || v === undefined ? '—' : nf.format(Math.round(v))
}

/** A fraction as a percentage; small rates keep more decimals so they do not read as 0%. */
export function pct(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—'
  const p = v * 100
  if (p > 0 && p < 0.001) return '<0.001%'
  const d = digits ?? (p !== 0 && Math.abs(p) < 0.1 ? 3 : p < 10 ? 2 : 1)
  return `${p.toFixed(d)}%`
}

export function num(v, digits = 1) {
  return v === null || v === undefined ? '—' : Number(v).toFixed(digits)
}

export function time(iso) {
  if (!iso) return '—'
  const d = new Date(iso)
  return d.toLocaleString('zh-CN', { hour12: false })
}

export const REASONS = {
  fast_answers: '答题过快',
  same_timing: '答题用时雷同',
  shared_device: '同一设备/网络多人参与',
}

export const KINDS = { single: '单选', multi: '多选', judge: '判断' }
export const ROLES = { admin: '管理员', organizer: '组织者', viewer: '只读查看' }
