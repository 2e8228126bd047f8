// localStorage that never throws (private mode and some webviews refuse it): falls back to memory.
const mem = new Map();
function ls() {
  try {
    const s = globalThis.localStorage;
    const k = '__baton_probe';
    s.setItem(k, '1');
    s.removeItem(k);
    return s;
  } catch {
    return null;
  }
}
const backing = ls();
export function get(key) {
  try {
    return backing ? backing.getItem(key) : mem.has(key) ? mem.get(key) : null;
  } catch {
    return mem.has(key) ? mem.get(key) : null;
  }
}
export function set(key, value) {
  if (value === null || value === undefined) return remove(key);
  mem.set(key, String(value));
  try {
    backing && backing.setItem(key, String(value));
  } catch {
    /* quota: memory only */
  }
}
export function remove(key) {
  mem.delete(key);
  try {
    backing && backing.removeItem(key);
  } catch {
    /* ignore */
  }
}

export function uuid4(rand = globalThis.crypto) {
  if (rand && typeof rand.randomUUID === 'function') return rand.randomUUID();
  const b = new Uint8Array(16);
  if (rand && rand.getRandomValues) rand.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0;
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function deviceId() {
  let id = get('baton.device');
  if (!id) {
    id = uuid4();
    set('baton.device', id);
  }
  return id;
}
export const tokenKey = (cid) => `baton.token.${cid}`;
export const attemptKey = (cid) => `baton.attempt.${cid}`;
export const inviteKey = (cid) => `baton.invite.${cid}`;
