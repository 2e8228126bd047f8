import { describe, it, expect, vi, beforeAll } from 'vitest'

// api.js reads sessionStorage at import: give it a small in-memory one.
const store = new Map([['baton.console.token', 'T1']])
vi.stubGlobal('sessionStorage', {
  getItem: (k) => (store.has(k) ? store.get(k) : null),
  setItem: (k, v) => store.set(k, String(v)),
  removeItem: (k) => store.delete(k),
})

let mod
beforeAll(async () => { mod = await import('../src/api.js') })

function answer(status, body) {
  return { ok: status < 300, status, json: async () => body }
}

describe('api', () => {
  it('sends the token and builds query strings without empty values', async () => {
    const fetch = vi.fn(async () => answer(200, { ok: 1 }))
    vi.stubGlobal('fetch', fetch)
    mod.setCampaign('demo')
    await mod.api(mod.cpath('/breakdown'), { query: { by: 'region', region_id: null } })
    expect(fetch.mock.calls[0][0]).toBe('/api/v1/console/campaigns/demo/breakdown?by=region')
    expect(fetch.mock.calls[0][1].headers.Authorization).toBe('Bearer T1')
  })

  it('turns problem documents into errors with the code', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => answer(403, { code: 'forbidden', detail: 'only your region' })))
    await expect(mod.api('/x')).rejects.toMatchObject({ status: 403, code: 'forbidden', message: 'only your region' })
    expect(mod.session.token).toBe('T1')
  })

  it('logs out on 401: token gone from memory and sessionStorage, a notice for the login screen', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => answer(401, { code: 'unauthorized' })))
    await expect(mod.api('/console/me')).rejects.toMatchObject({ status: 401 })
    expect(mod.session.token).toBe('')
    expect(store.has('baton.console.token')).toBe(false)
    expect(mod.session.notice).not.toBe('')
  })

  it('keeps the token from a login', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => answer(200, { token: 'T2', role: 'viewer', scope: {} })))
    await mod.login('hetang1', 'pw')
    expect(store.get('baton.console.token')).toBe('T2')
    expect(mod.session.notice).toBe('')
  })
})
