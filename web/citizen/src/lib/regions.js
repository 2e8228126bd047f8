// Places form a tree (city → county → township); units hang from a place.

/** Cascader options for district → township. A single root city is skipped. */
export function toCascaderOptions(regions) {
  let roots = regions || [];
  if (roots.length === 1 && roots[0].children && roots[0].children.length) roots = roots[0].children;
  const map = (p) => {
    const o = { text: p.name, value: p.id };
    if (p.children && p.children.length) o.children = p.children.map(map);
    return o;
  };
  return roots.map(map);
}

/** The chain of places from a root down to `id` (inclusive), or [] if unknown. */
export function pathTo(regions, id) {
  const walk = (list, trail) => {
    for (const p of list || []) {
      const t = trail.concat(p);
      if (p.id === id) return t;
      const r = walk(p.children, t);
      if (r) return r;
    }
    return null;
  };
  return walk(regions, []) || [];
}

export function findPlace(regions, id) {
  const p = pathTo(regions, id);
  return p.length ? p[p.length - 1] : null;
}

/** Ids of `id` and every place under it. */
export function subtreeIds(regions, id) {
  const out = new Set();
  const root = findPlace(regions, id);
  const add = (p) => {
    out.add(p.id);
    (p.children || []).forEach(add);
  };
  if (root) add(root);
  return out;
}

/** The county-level place containing `id` (itself if it is one); null if none. */
export function countyOf(regions, id) {
  const path = pathTo(regions, id);
  return path.find((p) => p.level === 'county') || (path.length > 1 ? path[1] : path[0]) || null;
}

/** Units that hang from `regionId` or below it, whose name contains `query` (any case). */
export function filterUnits(units, regions, regionId, query = '', limit = 50) {
  if (!regionId) return [];
  const ids = subtreeIds(regions, regionId);
  const q = String(query || '').trim().toLowerCase();
  const out = [];
  for (const u of units || []) {
    if (!ids.has(u.region_id)) continue;
    if (q && !u.name.toLowerCase().includes(q)) continue;
    out.push(u);
    if (out.length >= limit) break;
  }
  return out;
}

/** Characters as a person counts them (code points), after trimming. */
export function nicknameLength(s) {
  return Array.from(String(s || '').trim()).length;
}
export function nicknameValid(s) {
  const n = nicknameLength(s);
  return n >= 1 && n <= 20 && !/[\u0000-\u001f\u007f]/.test(s);
}
