// A tiny hash router: `#/regions?region=hetang`. Hash routes need no history fallback on the
// server: baton only serves /console/ (index.html) and /console/assets/*.
import { reactive } from 'vue'

export const ROUTES = ['overview', 'regions', 'units', 'questions', 'relay', 'exports', 'flags']

function parse() {
  const h = location.hash.replace(/^#\/?/, '')
  const [name, qs] = h.split('?')
  return { name: ROUTES.includes(name) ? name : 'overview', query: Object.fromEntries(new URLSearchParams(qs || '')) }
}

export const route = reactive(parse())

window.addEventListener('hashchange', () => Object.assign(route, parse()))

export function go(name, query = {}) {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v)).toString()
  location.hash = `#/${name}${q ? `?${q}` : ''}`
}
