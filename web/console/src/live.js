// The live overview as a composable: the overview endpoint once for a fast first paint, then
// the SSE stream (fetch + Authorization) for `overview`, `join` and `finish` events.
import { reactive, onUnmounted } from 'vue'
import { connectSse } from './sse.js'
import { api, cpath, authHeaders, logout, API } from './api.js'

const STATE_LABEL = {
  connecting: '连接中',
  open: '实时更新中',
  reconnecting: '连接中断，正在重连',
  closed: '已断开',
}

export function useLive() {
  const live = reactive({ overview: null, feed: [], state: 'connecting', stateLabel: STATE_LABEL.connecting, error: '', updates: 0 })
  let conn = null
  let seq = 0

  api(cpath('/overview'))
    .then((o) => { if (!live.overview) live.overview = o })
    .catch((e) => { live.error = e.message })

  conn = connectSse({
    url: API + cpath('/live'),
    headers: authHeaders(),
    stopOn: ['expired'],
    idleMs: 15000, // the server sends an overview every 2 s: silence means a stalled connection
    onState: (s) => { live.state = s; live.stateLabel = STATE_LABEL[s] },
    onFatal: (err) => {
      if (err.status === 401) logout('登录已过期，请重新登录。')
      else live.error = err.body?.detail || err.message
    },
    onEvent: (ev) => {
      let data
      try { data = JSON.parse(ev.data) } catch { return }
      if (ev.type === 'overview') {
        live.overview = data
        live.updates++
      } else if (ev.type === 'join' || ev.type === 'finish') {
        live.feed.unshift({ key: ++seq, type: ev.type, ...data })
        if (live.feed.length > 40) live.feed.length = 40
      } else if (ev.type === 'expired') {
        logout('登录已过期，请重新登录。')
      }
    },
  })

  onUnmounted(() => conn && conn.close())
  return live
}
