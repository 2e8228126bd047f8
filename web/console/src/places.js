// Names and tree helpers over the public campaign document (regions tree, units).

export function indexPlaces(campaign) {
  const byId = new Map()
  function walk(n, parent) {
    byId.set(n.id, { ...n, parent_id: parent })
    for (const c of n.children || []) walk(c, n.id)
  }
  for (const r of campaign?.regions || []) walk(r, null)
  return byId
}

/** Ancestors of a place from the root down to it (inclusive). */
export function pathTo(byId, id) {
  const out = []
  let cur = byId.get(id)
  while (cur) { out.unshift(cur); cur = byId.get(cur.parent_id) }
  return out
}

/** Is `id` the place `root` or under it? */
export function within(byId, id, root) {
  if (!root) return true
  let cur = byId.get(id)
  while (cur) { if (cur.id === root) return true; cur = byId.get(cur.parent_id) }
  return false
}
