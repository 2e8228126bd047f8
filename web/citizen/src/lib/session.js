import { reactive } from 'vue';
import { createClient } from './api.js';
import { clock } from './clock.js';
import { lang } from './i18n.js';
import { get, set, remove, deviceId, tokenKey, attemptKey, inviteKey } from './store.js';

/** The campaign the server put this page in (`<meta name="baton:campaign">`): at `/`, the live one. */
export function pageCampaign() {
  const m = typeof document !== 'undefined' && document.querySelector('meta[name="baton:campaign"]');
  return (m && m.getAttribute('content')) || 'demo';
}

export const state = reactive({
  cid: pageCampaign(),
  campaign: null,
  campaignAt: 0,
  me: null,
  attempt: null, // the attempt just started (saves a GET)
  result: null,
  notice: '',
});

const client = createClient({ getToken: () => get(tokenKey(state.cid)) });
const enc = encodeURIComponent;
const L = () => ({ lang: lang.value });

export const token = () => get(tokenKey(state.cid));
export const openAttemptId = () => get(attemptKey(state.cid));
export const setOpenAttempt = (aid) => set(attemptKey(state.cid), aid);
export const clearOpenAttempt = () => remove(attemptKey(state.cid));
export const storedInvite = () => get(inviteKey(state.cid));
export function rememberInvite(code) {
  if (code && /^[A-Za-z0-9_-]{1,64}$/.test(code)) set(inviteKey(state.cid), code);
}
export function logout() {
  remove(tokenKey(state.cid));
  clearOpenAttempt();
  state.me = null;
}

// index.html starts GET /api/v1/campaigns/{cid} in a tiny inline script before the app's
// JavaScript has downloaded; the first campaign read adopts that response.
function takePrefetch(cid) {
  const w = typeof window !== 'undefined' ? window : null;
  const pre = w && w.__batonCampaign;
  if (!pre || pre.cid !== cid) return null;
  w.__batonCampaign = null;
  return pre;
}

export const api = {
  async campaign(cid = state.cid) {
    const pre = takePrefetch(cid);
    let r;
    if (pre) {
      try {
        r = await client.handle(pre.p, pre.t0);
      } catch {
        r = null; // fall back to an ordinary (retried) request
      }
    }
    if (!r) r = await client.call('GET', `/api/v1/campaigns/${enc(cid)}`);
    state.campaign = r.data;
    state.campaignAt = Date.now();
    return r.data;
  },
  async join({ region_id, unit_id, nickname }) {
    const body = { device_id: deviceId(), region_id, nickname: nickname.trim() };
    if (unit_id) body.unit_id = unit_id;
    const inv = storedInvite();
    if (inv) body.invite_code = inv;
    const r = await client.call('POST', `/api/v1/campaigns/${enc(state.cid)}/participants`, { body });
    set(tokenKey(state.cid), r.data.token);
    remove(inviteKey(state.cid));
    return r.data;
  },
  async me() {
    const r = await client.call('GET', '/api/v1/me', { auth: true });
    state.me = r.data;
    if (r.data.open_attempt_id) setOpenAttempt(r.data.open_attempt_id);
    return r.data;
  },
  async startAttempt(opts = {}) {
    const r = await client.call('POST', '/api/v1/attempts', { auth: true, body: {}, query: L(), ...opts });
    // A new attempt's started_at is a precise server timestamp taken during the request.
    if (r.status === 201 && r.data.started_at) clock.sample(Date.parse(r.data.started_at), r.t0, r.t1);
    setOpenAttempt(r.data.attempt_id);
    state.attempt = r.data;
    return r;
  },
  async attempt(aid) {
    return (await client.call('GET', `/api/v1/attempts/${enc(aid)}`, { auth: true, query: L() })).data;
  },
  async answer(aid, question_id, choice, opts = {}) {
    return client.call('POST', `/api/v1/attempts/${enc(aid)}/answers`, { auth: true, body: { question_id, choice }, query: L(), ...opts });
  },
  async finish(aid) {
    const r = await client.call('POST', `/api/v1/attempts/${enc(aid)}/finish`, { auth: true, body: {} });
    if (openAttemptId() === aid) clearOpenAttempt();
    state.result = r.data;
    return r.data;
  },
  /** The participant counter (cheap, cached a few seconds by the server): updates the campaign's stats. */
  async stats(cid = state.cid) {
    const r = await client.call('GET', `/api/v1/campaigns/${enc(cid)}/stats`, { retries: 0 });
    if (state.campaign && state.campaign.id === cid) state.campaign = { ...state.campaign, stats: r.data };
    return r.data;
  },
  async relay() {
    return (await client.call('GET', '/api/v1/me/relay', { auth: true })).data;
  },
  async share(channel) {
    try {
      await client.call('POST', '/api/v1/shares', { auth: true, body: { channel }, retries: 1 });
    } catch {
      /* recording a share never blocks the person */
    }
  },
  async board(board, { around = true, limit = 20 } = {}) {
    const query = { limit };
    if (around && token()) query.around = 'me';
    return (await client.call('GET', `/api/v1/campaigns/${enc(state.cid)}/leaderboards/${enc(board)}`, { auth: !!token(), query, retries: 0 })).data;
  },
  async jssdk(url) {
    return (await client.call('GET', '/api/v1/wechat/jssdk-config', { query: { url }, retries: 0 })).data;
  },
};

let campaignP = null;
/** The campaign, fetched once (shared by every screen); `fresh` refetches. */
export function ensureCampaign(fresh = false) {
  if (state.campaign && !fresh) return Promise.resolve(state.campaign);
  if (!campaignP || fresh) {
    campaignP = api.campaign().finally(() => {
      campaignP = null;
    });
  }
  return campaignP;
}
