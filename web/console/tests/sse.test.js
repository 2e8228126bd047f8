import { describe, it, expect } from 'vitest'
import { createSseParser, connectSse } from '../src/sse.js'

function collect() {
  const events = []
  const p = createSseParser((e) => events.push(e))
  return { p, events }
}

describe('createSseParser', () => {
  it('parses events, ids, multi-line data and ignores comments', () => {
    const { p, events } = collect()
    p.push('retry: 2000\n\n: keep-alive\nevent: overview\nid: 42\ndata: {"a":1}\n\ndata: x\ndata: y\n\n')
    expect(events).toEqual([
      { type: 'overview', data: '{"a":1}', id: '42' },
      { type: 'message', data: 'x\ny', id: '42' },
    ])
    expect(p.lastEventId).toBe('42')
  })

  it('gives the same events whatever the chunk boundaries', () => {
    const text = 'event: join\ndata: {"nickname":"张三"}\n\r\nevent: overview\r\nid: 7\r\ndata: {"participants":3}\r\n\r\n'
    const whole = collect()
    whole.p.push(text)
    expect(whole.events).toHaveLength(2)
    for (let size = 1; size <= 7; size++) {
      const { p, events } = collect()
      for (let i = 0; i < text.length; i += size) p.push(text.slice(i, i + size))
      expect(events).toEqual(whole.events)
    }
  })

  it('treats \\r\\n split across chunks as one line ending', () => {
    const { p, events } = collect()
    p.push('data: a\r')
    p.push('\ndata: b\r')
    p.push('\n\r')
    p.push('\n')
    expect(events).toEqual([{ type: 'message', data: 'a\nb', id: '' }])
  })

  it('dispatches nothing for an event without data and keeps its id', () => {
    const { p, events } = collect()
    p.push('id: 9\nevent: ping\n\n')
    expect(events).toEqual([])
    expect(p.lastEventId).toBe('9')
  })

  it('reports retry and strips one leading space only', () => {
    const retries = []
    const events = []
    const p = createSseParser((e) => events.push(e), (ms) => retries.push(ms))
    p.push('retry: 1500\nretry: soon\ndata:  two spaces\ndata:none\n\n')
    expect(retries).toEqual([1500])
    expect(events[0].data).toBe(' two spaces\nnone')
  })
})

// A fake fetch() whose bodies are streams of byte chunks, recording request headers.
function fakeFetch(scripts) {
  const calls = []
  const fn = async (url, init) => {
    calls.push({ url, headers: { ...init.headers } })
    const s = scripts[Math.min(calls.length - 1, scripts.length - 1)]
    if (s.status && s.status !== 200) {
      return { ok: false, status: s.status, json: async () => ({ code: 'x' }) }
    }
    const enc = new TextEncoder()
    const bytes = enc.encode(s.body)
    const chunks = []
    // split into 3-byte chunks: splits multi-byte UTF-8 (Chinese) characters too
    for (let i = 0; i < bytes.length; i += 3) chunks.push(bytes.slice(i, i + 3))
    const stream = new ReadableStream({
      pull(c) {
        if (chunks.length) c.enqueue(chunks.shift())
        else if (s.hang) init.signal.addEventListener('abort', () => c.error(new Error('aborted')))
        else c.close()
      },
    })
    return { ok: true, status: 200, body: stream }
  }
  fn.calls = calls
  return fn
}

describe('connectSse', () => {
  it('sends the token, decodes UTF-8 across chunks and reconnects with Last-Event-ID', async () => {
    const f = fakeFetch([
      { body: 'event: join\ndata: {"nickname":"禁毒先锋"}\n\nevent: overview\nid: 100\ndata: {"participants":1}\n\n' },
      { body: 'event: overview\nid: 101\ndata: {"participants":2}\n\nevent: expired\ndata: {}\n\n' },
    ])
    const events = []
    const states = []
    const delays = []
    const c = connectSse({
      url: '/live',
      headers: { Authorization: 'Bearer T' },
      onEvent: (e) => events.push(e),
      onState: (s) => states.push(s),
      stopOn: ['expired'],
      fetch: f,
      sleep: async (ms) => { delays.push(ms) },
    })
    await c.done
    expect(f.calls).toHaveLength(2)
    expect(f.calls[0].headers.Authorization).toBe('Bearer T')
    expect(f.calls[0].headers['Last-Event-ID']).toBeUndefined()
    expect(f.calls[1].headers['Last-Event-ID']).toBe('100')
    expect(JSON.parse(events[0].data).nickname).toBe('禁毒先锋')
    expect(events.map((e) => e.type)).toEqual(['join', 'overview', 'overview', 'expired'])
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed'])
    expect(delays).toEqual([2000])
    expect(c.lastEventId).toBe('101')
  })

  it('does not deliver a half-received event after a drop', async () => {
    const f = fakeFetch([
      { body: 'event: overview\nid: 5\ndata: {"participants":1}\n\nevent: overview\nid: 6\ndata: {"partic' },
      { body: 'event: expired\ndata: {}\n\n' },
    ])
    const events = []
    const c = connectSse({ url: '/live', onEvent: (e) => events.push(e), stopOn: ['expired'], fetch: f, sleep: async () => {} })
    await c.done
    expect(events.map((e) => e.id)).toEqual(['5', '5'])
    expect(f.calls[1].headers['Last-Event-ID']).toBe('5')
  })

  it('backs off after network errors and stops on 401', async () => {
    let n = 0
    const f = async () => {
      n++
      if (n <= 2) throw new TypeError('network down')
      return { ok: false, status: 401, json: async () => ({ code: 'unauthorized' }) }
    }
    const delays = []
    let fatal = null
    const c = connectSse({ url: '/live', onEvent: () => {}, fetch: f, retryMs: 1000, sleep: async (ms) => { delays.push(ms) }, onFatal: (e) => { fatal = e } })
    await c.done
    expect(delays).toEqual([1000, 2000])
    expect(fatal.status).toBe(401)
  })

  it('treats a stalled stream as a drop and reconnects with Last-Event-ID', async () => {
    const f = fakeFetch([
      { body: 'event: overview\nid: 77\ndata: {}\n\n', hang: true },
      { body: 'event: expired\ndata: {}\n\n' },
    ])
    const states = []
    const c = connectSse({ url: '/live', onEvent: () => {}, onState: (s) => states.push(s), stopOn: ['expired'], fetch: f, idleMs: 30, sleep: async () => {} })
    await c.done
    expect(f.calls).toHaveLength(2)
    expect(f.calls[1].headers['Last-Event-ID']).toBe('77')
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed'])
  })

  it('close() ends a hanging stream', async () => {
    const f = fakeFetch([{ body: 'event: overview\nid: 1\ndata: {}\n\n', hang: true }])
    const events = []
    const c = connectSse({ url: '/live', onEvent: (e) => events.push(e), fetch: f })
    await new Promise((r) => setTimeout(r, 20))
    c.close()
    await c.done
    expect(events).toHaveLength(1)
  })
})
