// Server-sent events over fetch(): EventSource cannot send `Authorization: Bearer`, which the
// console's live endpoint requires. `createSseParser` implements the WHATWG event-stream
// parsing rules over text chunks that may split anywhere (inside a line, between `\r` and
// `\n`); `connectSse` reads a fetch() body, decodes UTF-8 across chunk boundaries, and
// reconnects after a drop with `Last-Event-ID` so the server resumes without repeats or gaps.

/**
 * @param {(ev: {type: string, data: string, id: string}) => void} onEvent
 * @param {(ms: number) => void} [onRetry] called when the stream sets `retry:`
 */
export function createSseParser(onEvent, onRetry) {
  let buf = ''
  let pendingCR = false // last chunk ended in '\r': a following '\n' belongs to it
  let type = ''
  let data = []
  let idBuffer = '' // an `id:` takes effect only once its event is complete (blank line)
  let lastEventId = ''

  function line(l) {
    if (l === '') {
      lastEventId = idBuffer
      if (data.length) {
        onEvent({ type: type || 'message', data: data.join('\n'), id: lastEventId })
      }
      type = ''
      data = []
      return
    }
    if (l[0] === ':') return // comment / keep-alive
    const i = l.indexOf(':')
    let field = l
    let value = ''
    if (i >= 0) {
      field = l.slice(0, i)
      value = l.slice(i + 1)
      if (value[0] === ' ') value = value.slice(1)
    }
    switch (field) {
      case 'event': type = value; break
      case 'data': data.push(value); break
      case 'id': if (!value.includes('\0')) idBuffer = value; break
      case 'retry': if (/^\d+$/.test(value) && onRetry) onRetry(Number(value)); break
      default: break // unknown fields are ignored
    }
  }

  return {
    /** Feed decoded text. */
    push(text) {
      if (pendingCR && text[0] === '\n') text = text.slice(1)
      pendingCR = false
      buf += text
      let start = 0
      for (let i = 0; i < buf.length; i++) {
        const c = buf[i]
        if (c === '\n' || c === '\r') {
          line(buf.slice(start, i))
          if (c === '\r') {
            if (i + 1 === buf.length) pendingCR = true
            else if (buf[i + 1] === '\n') i++
          }
          start = i + 1
        }
      }
      buf = buf.slice(start)
    },
    /** The stream ended: an unterminated event is discarded, as the spec says. */
    reset() { buf = ''; pendingCR = false; type = ''; data = []; idBuffer = lastEventId },
    get lastEventId() { return lastEventId },
    set lastEventId(v) { lastEventId = v; idBuffer = v },
  }
}

export class SseHttpError extends Error {
  constructor(status, body) {
    super(`HTTP ${status}`)
    this.status = status
    this.body = body
  }
}

/**
 * Connect to an event stream with fetch(), reconnecting after drops.
 * @param {object} o
 * @param {string} o.url
 * @param {Record<string,string>} [o.headers]   e.g. { Authorization: 'Bearer …' }
 * @param {(ev) => void} o.onEvent
 * @param {(state: 'connecting'|'open'|'reconnecting'|'closed', info?: any) => void} [o.onState]
 * @param {(err: SseHttpError) => void} [o.onFatal]  4xx answers: no retry (401 → log in again)
 * @param {string[]} [o.stopOn]  event types after which the stream is closed for good ('expired')
 * @param {number} [o.retryMs]   first delay; doubled after each failure up to maxRetryMs
 * @param {number} [o.idleMs]    no bytes for this long counts as a drop (a proxy or a half-open
 *                               connection can stall a stream without closing it); 0 = never
 * @param {typeof fetch} [o.fetch]
 * @param {(ms: number, signal: AbortSignal) => Promise<void>} [o.sleep]
 * @returns {{ close(): void, readonly lastEventId: string, done: Promise<void> }}
 */
export function connectSse(o) {
  const doFetch = o.fetch || globalThis.fetch.bind(globalThis)
  const sleep = o.sleep || defaultSleep
  const onState = o.onState || (() => {})
  const stopOn = new Set(o.stopOn || [])
  const baseRetry = o.retryMs ?? 2000
  const maxRetry = o.maxRetryMs ?? 30000
  const idleMs = o.idleMs ?? 0
  const ctl = new AbortController()
  let retry = baseRetry
  let failures = 0
  let stopped = false
  const parser = createSseParser(
    (ev) => {
      o.onEvent(ev)
      if (stopOn.has(ev.type)) { stopped = true; ctl.abort() }
    },
    (ms) => { retry = ms },
  )

  async function once() {
    const headers = { Accept: 'text/event-stream', ...(o.headers || {}) }
    if (parser.lastEventId) headers['Last-Event-ID'] = parser.lastEventId
    // One controller per connection, aborted by close() or by the idle watchdog.
    const conn = new AbortController()
    const onClose = () => conn.abort()
    ctl.signal.addEventListener('abort', onClose, { once: true })
    let idle = null
    const arm = () => {
      if (!idleMs) return
      clearTimeout(idle)
      idle = setTimeout(() => conn.abort(), idleMs)
    }
    try {
      arm()
      await read(headers, conn.signal, arm)
    } finally {
      clearTimeout(idle)
      ctl.signal.removeEventListener('abort', onClose)
    }
  }

  async function read(headers, signal, arm) {
    const res = await doFetch(o.url, { headers, signal, cache: 'no-store' })
    if (!res.ok) {
      let body = null
      try { body = await res.json() } catch { /* not json */ }
      throw new SseHttpError(res.status, body)
    }
    onState('open')
    failures = 0
    const reader = res.body.getReader()
    const dec = new TextDecoder('utf-8')
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        arm()
        parser.push(dec.decode(value, { stream: true }))
      }
      parser.push(dec.decode())
    } finally {
      parser.reset()
      try { await reader.cancel() } catch { /* already closed */ }
    }
  }

  const done = (async () => {
    onState('connecting')
    while (!stopped && !ctl.signal.aborted) {
      try {
        await once()
      } catch (err) {
        if (ctl.signal.aborted) break
        if (err instanceof SseHttpError && err.status >= 400 && err.status < 500 && err.status !== 429) {
          stopped = true
          if (o.onFatal) o.onFatal(err)
          break
        }
        failures++
      }
      if (stopped || ctl.signal.aborted) break
      onState('reconnecting', { lastEventId: parser.lastEventId })
      const delay = Math.min(maxRetry, retry * 2 ** Math.max(0, failures - 1))
      try { await sleep(delay, ctl.signal) } catch { break }
    }
    onState('closed')
  })()

  return {
    close() { stopped = true; ctl.abort() },
    get lastEventId() { return parser.lastEventId },
    done,
  }
}

function defaultSleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => { clearTimeout(t); reject(new Error('aborted')) }, { once: true })
  })
}
