import { clock as defaultClock } from './clock.js';

/** A failed call: `status` 0 means the network failed; `code` is the problem's stable word. */
export class ApiError extends Error {
  constructor(status, problem = {}, retryAfter = null) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem.code || (status === 0 ? 'network' : `http_${status}`);
    this.detail = problem.detail || '';
    this.retryAfter = retryAfter;
  }
}

export function parseRetryAfter(v) {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  if (Number.isFinite(n) && n >= 0) return Math.ceil(n);
  const d = Date.parse(v);
  return Number.isFinite(d) ? Math.max(0, Math.ceil((d - Date.now()) / 1000)) : null;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * `fetch` wrapper for the participant API: JSON in and out, bearer token, `?lang=`, problem
 * documents turned into ApiError, clock samples from every response's Date header, and a
 * bounded retry of 429 (after Retry-After) and of network failures for idempotent calls.
 */
export function createClient({
  fetchImpl = (...a) => globalThis.fetch(...a),
  getToken = () => null,
  clock = defaultClock,
  now = () => Date.now(),
  wait = sleep,
  maxRetries = 2,
  timeoutMs = 15000,
} = {}) {
  async function once(method, path, { body, auth, query } = {}) {
    let url = path;
    const qs = query ? Object.entries(query).filter(([, v]) => v !== undefined && v !== null) : [];
    if (qs.length) url += (url.includes('?') ? '&' : '?') + qs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth) {
      const tok = getToken();
      if (tok) headers.Authorization = `Bearer ${tok}`;
    }
    const ctl = typeof AbortController === 'function' ? new AbortController() : null;
    const timer = ctl ? setTimeout(() => ctl.abort(), timeoutMs) : null;
    const t0 = now();
    const p = fetchImpl(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: ctl ? ctl.signal : undefined });
    try {
      return await handle(p, t0);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** Turns a fetch() promise into { status, data, t0, t1 } or an ApiError. */
  async function handle(p, t0) {
    let res;
    try {
      res = await p;
    } catch (e) {
      throw new ApiError(0, { code: 'network', detail: '' });
    }
    const t1 = now();
    const hdr = (k) => (res.headers && res.headers.get ? res.headers.get(k) : null);
    clock.sampleDateHeader(hdr('date'), t0, t1);
    let data = null;
    if (res.status !== 204) {
      const text = await res.text();
      if (text) {
        try {
          data = JSON.parse(text);
        } catch {
          data = text;
        }
      }
    }
    if (!res.ok) {
      const problem = data && typeof data === 'object' ? data : {};
      throw new ApiError(res.status, problem, res.status === 429 || res.status === 503 ? parseRetryAfter(hdr('retry-after')) ?? 1 : null);
    }
    return { status: res.status, data, t0, t1 };
  }

  async function call(method, path, opts = {}) {
    for (let i = 0; ; i++) {
      try {
        return await once(method, path, opts);
      } catch (e) {
        const retriable = e.status === 429 || (e.status === 0 && opts.idempotent !== false);
        if (!retriable || i >= (opts.retries ?? maxRetries)) throw e;
        if (opts.onRetry) opts.onRetry(e);
        await wait(e.status === 429 ? Math.min(e.retryAfter ?? 1, 30) * 1000 : 800 * (i + 1));
      }
    }
  }
  return { call, once, handle };
}
