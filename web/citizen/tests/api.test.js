import { describe, it, expect, vi } from 'vitest';
import { createClient, ApiError, parseRetryAfter } from '../src/lib/api.js';
import { Clock } from '../src/lib/clock.js';

function res(status, body, headers = {}) {
  const h = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: { get: (k) => h.get(k.toLowerCase()) ?? null },
    text: async () => (body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body)),
  };
}
const problem = (status, code, detail = 'x') => ({ type: `urn:baton:problem:${code}`, title: 't', status, detail, code });

function setup(responses, opts = {}) {
  const calls = [];
  const queue = [...responses];
  const fetchImpl = vi.fn(async (url, init) => {
    calls.push({ url, init });
    const r = queue.shift();
    if (r instanceof Error) throw r;
    return r;
  });
  const waits = [];
  const clock = new Clock(() => 0);
  const c = createClient({ fetchImpl, getToken: () => 'tok', clock, wait: async (ms) => waits.push(ms), now: () => 0, ...opts });
  return { c, calls, waits, clock };
}

describe('api client', () => {
  it('sends JSON, bearer token and query; returns status and data', async () => {
    const { c, calls } = setup([res(201, { attempt_id: 'a1' })]);
    const r = await c.call('POST', '/api/v1/attempts', { auth: true, body: {}, query: { lang: 'en' } });
    expect(r.status).toBe(201);
    expect(r.data.attempt_id).toBe('a1');
    expect(calls[0].url).toBe('/api/v1/attempts?lang=en');
    expect(calls[0].init.headers.Authorization).toBe('Bearer tok');
    expect(calls[0].init.headers['Content-Type']).toBe('application/json');
    expect(calls[0].init.body).toBe('{}');
  });
  it('no token header without auth; 204 has no body', async () => {
    const { c, calls } = setup([res(204)]);
    const r = await c.call('POST', '/api/v1/shares', { body: { channel: 'link' } });
    expect(r.data).toBe(null);
    expect(calls[0].init.headers.Authorization).toBeUndefined();
  });
  it('turns problem documents into ApiError with the stable code and a readable detail', async () => {
    for (const [status, code] of [[409, 'attempts_exhausted'], [409, 'campaign_not_live'], [409, 'attempt_finished'], [404, 'attempt_not_found'], [400, 'invalid_choice']]) {
      const { c } = setup([res(status, problem(status, code, '今天的次数已用完'), { 'content-type': 'application/problem+json' })]);
      const e = await c.call('POST', '/x').catch((x) => x);
      expect(e).toBeInstanceOf(ApiError);
      expect(e.status).toBe(status);
      expect(e.code).toBe(code);
      expect(e.detail).toBe('今天的次数已用完');
    }
  });
  it('a non-JSON error body still gives a code', async () => {
    const { c } = setup([res(502, '<html>bad gateway</html>')]);
    const e = await c.call('GET', '/x', { retries: 0 }).catch((x) => x);
    expect(e.code).toBe('http_502');
  });
  it('retries 429 after Retry-After seconds, then succeeds', async () => {
    const onRetry = vi.fn();
    const { c, waits } = setup([res(429, problem(429, 'rate_limited'), { 'Retry-After': '3' }), res(200, { ok: 1 })]);
    const r = await c.call('POST', '/x', { onRetry });
    expect(r.data.ok).toBe(1);
    expect(waits).toEqual([3000]);
    expect(onRetry).toHaveBeenCalledTimes(1);
    expect(onRetry.mock.calls[0][0].retryAfter).toBe(3);
  });
  it('gives up on 429 after the retry budget and reports retryAfter', async () => {
    const r429 = () => res(429, problem(429, 'rate_limited'), { 'Retry-After': '2' });
    const { c } = setup([r429(), r429(), r429()]);
    const e = await c.call('POST', '/x').catch((x) => x);
    expect(e.code).toBe('rate_limited');
    expect(e.retryAfter).toBe(2);
  });
  it('network failures are ApiError status 0 code network, retried', async () => {
    const { c, calls } = setup([new TypeError('Failed to fetch'), res(200, { ok: 1 })]);
    expect((await c.call('GET', '/x')).data.ok).toBe(1);
    expect(calls.length).toBe(2);
    const s = setup([new TypeError('x')]);
    const e = await s.c.call('GET', '/x', { retries: 0 }).catch((x) => x);
    expect(e.status).toBe(0);
    expect(e.code).toBe('network');
  });
  it('does not retry other 4xx', async () => {
    const { c, calls } = setup([res(409, problem(409, 'already_answered'))]);
    await expect(c.call('POST', '/x')).rejects.toMatchObject({ code: 'already_answered' });
    expect(calls.length).toBe(1);
  });
  it('samples the clock from the Date header', async () => {
    const { c, clock } = setup([res(200, {}, { Date: 'Thu, 01 Jan 1970 00:00:10 GMT' })]);
    await c.call('GET', '/x');
    expect(clock.known).toBe(true);
    expect(clock.lo).toBe(10_000);
    expect(clock.hi).toBe(11_000);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and dates', () => {
    expect(parseRetryAfter('5')).toBe(5);
    expect(parseRetryAfter('0.2')).toBe(1);
    expect(parseRetryAfter(null)).toBe(null);
    expect(parseRetryAfter('')).toBe(null);
    expect(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString())).toBeGreaterThanOrEqual(9);
  });
});
