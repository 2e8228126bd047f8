// The console's HTTP client: the organizer token lives in sessionStorage (gone when the tab
// closes); every call sends it; any 401 clears it and sends the user back to the login screen.
import { reactive } from 'vue'

const KEY = 'baton.console.token'
const CAMPAIGN_KEY = 'baton.console.campaign'
export const API = '/api/v1'

export const session = reactive({
  token: sessionStorage.getItem(KEY) || '',
  me: null, // GET /console/me
  campaignId: sessionStorage.getItem(CAMPAIGN_KEY) || '',
  campaign: null, // public campaign info (names of places and units)
  notice: '',
})

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`)
    this.status = status
    this.code = problem?.code || ''
    this.problem = problem
  }
}

export function setToken(token) {
  session.token = token
  if (token) sessionStorage.setItem(KEY, token)
  else sessionStorage.removeItem(KEY)
}

export function setCampaign(id) {
  session.campaignId = id
  sessionStorage.setItem(CAMPAIGN_KEY, id)
}

export function logout(notice = '') {
  setToken('')
  session.me = null
  session.notice = notice
}

export function authHeaders() {
  return session.token ? { Authorization: `Bearer ${session.token}` } : {}
}

/** Handle a non-2xx answer: 401 logs out; everything else becomes an ApiError. */
export async function failure(res) {
  let problem = null
  try { problem = await res.json() } catch { /* not json */ }
  if (res.status === 401 && session.token) logout('登录已过期或无效，请重新登录。')
  return new ApiError(res.status, problem)
}

export async function api(path, { method = 'GET', body, query } = {}) {
  let url = API + path
  if (query) {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== '') q.set(k, v)
    const s = q.toString()
    if (s) url += `?${s}`
  }
  const headers = { Accept: 'application/json', ...authHeaders() }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  if (!res.ok) throw await failure(res)
  if (res.status === 204) return null
  return res.json()
}

export function cpath(suffix) {
  return `/console/campaigns/${encodeURIComponent(session.campaignId)}${suffix}`
}

export async function login(username, password) {
  const res = await fetch(`${API}/console/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  if (!res.ok) {
    let problem = null
    try { problem = await res.json() } catch { /* not json */ }
    throw new ApiError(res.status, problem)
  }
  const data = await res.json()
  setToken(data.token)
  session.notice = ''
  return data
}

/** Download an export with the token: fetch → blob → a temporary link with `download`. */
export async function downloadExport(file, regionId) {
  const q = regionId ? `?region_id=${encodeURIComponent(regionId)}` : ''
  const res = await fetch(API + cpath(`/exports/${file}.csv`) + q, { headers: authHeaders() })
  if (!res.ok) throw await failure(res)
  const blob = await res.blob()
  const name = `${session.campaignId}-${file}${regionId ? `-${regionId}` : ''}.csv`
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10000)
  return { name, size: blob.size }
}
