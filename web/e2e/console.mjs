// Real-browser e2e for the organizer console (web/console).
//
// Starts `target/debug/baton serve --demo --rate-limits off` on a free port with a temporary
// SQLite database, creates an admin and a region-scoped viewer (hetang) with
// `baton organizer add` (the server serves web/console/dist at /console/, the API beside it), and
// drives Debian's chromium (playwright-core) at 1440×900:
//   admin: login → live overview → a citizen joins through the API → the participant figure
//          changes without a reload → districts/units/questions/relay/flags → CSV export
//   viewer (hetang): sees its scope, only hetang rows, no flags tab; drilling into liling is
//          refused with a visible forbidden message.
// Screenshots go to web/screenshots/console-*.png.
//
// Usage: node web/e2e/console.mjs   (env: BATON_BIN, CHROMIUM, HEADFUL=1)
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, existsSync, readFileSync, rmSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import net from 'node:net'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')
const consoleDir = join(root, 'web/console')
const shots = join(root, 'web/screenshots')
const bin = process.env.BATON_BIN || join(root, 'target/debug/baton')
const PASSWORD = 'correct horse battery staple'
const children = []
const tmp = mkdtempSync(join(tmpdir(), 'baton-console-e2e-'))
const db = `sqlite://${join(tmp, 'baton.db')}`

function log(...a) { console.log('[console-e2e]', ...a) }

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer()
    s.once('error', rej)
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)) })
  })
}

function start(cmd, args, opts = {}) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...opts })
  let out = ''
  p.stdout.on('data', (d) => { out += d })
  p.stderr.on('data', (d) => { out += d })
  p.output = () => out
  children.push(p)
  return p
}

async function waitFor(url, ms = 60000) {
  const until = Date.now() + ms
  for (;;) {
    try { const r = await fetch(url); if (r.ok) return } catch { /* not yet */ }
    if (Date.now() > until) throw new Error(`timed out waiting for ${url}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

function cleanup() {
  for (const p of children) { try { process.kill(-p.pid, 'SIGTERM') } catch { /* gone */ } }
  try { rmSync(tmp, { recursive: true, force: true }) } catch { /* ignore */ }
}
process.on('exit', cleanup)
process.on('SIGINT', () => process.exit(130))

async function main() {
  assert.ok(existsSync(bin), `${bin} is missing: run cargo build -p baton first`)
  assert.ok(existsSync(join(consoleDir, 'dist/index.html')), 'web/console/dist is missing: cargo build -p baton builds it (with Node.js installed)')
  mkdirSync(shots, { recursive: true })

  const apiPort = await freePort()
  const api = `http://127.0.0.1:${apiPort}`
  const serve = () => start(bin, ['serve', '--demo', '--rate-limits', 'off', '--listen', `127.0.0.1:${apiPort}`, '--database-url', db])
  let server = serve()
  await waitFor(`${api}/readyz`)
  await waitFor(`${api}/api/v1/campaigns/demo`)
  log('baton up on', api)

  for (const args of [['admin1', '--role', 'admin'], ['hetang1', '--role', 'viewer', '--campaign', 'demo', '--region', 'hetang']]) {
    const r = spawnSync(bin, ['organizer', 'add', ...args, '--database-url', db], { env: { ...process.env, BATON_ORGANIZER_PASSWORD: PASSWORD }, encoding: 'utf8' })
    assert.equal(r.status, 0, `organizer add ${args[0]} failed: ${r.stderr}`)
  }

  const ui = `${api}/console/`
  await waitFor(ui)
  log('console served at', ui)

  // Some citizens so the tables have rows in several districts.
  const join_ = async (region, nickname, extra = {}) => {
    const r = await fetch(`${api}/api/v1/campaigns/demo/participants`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ device_id: randomUUID(), region_id: region, nickname, ...extra }),
    })
    assert.ok(r.status === 201 || r.status === 200, `join failed: ${r.status}`)
    return r.json()
  }
  const first = await join_('hetang-yuetang', '荷塘一号', { unit_id: 'u-hetang-yuanjiawan-community' })
  for (const [i, reg] of ['hetang-cigutang', 'lusong-jianshe', 'liling-lailongmen', 'shifeng-tianxin', 'tianyuan-songshanlu', 'hetang-guihua'].entries()) {
    const p = await join_(reg, `市民${i}`, { invite_code: first.relay_code })
    const h = { 'content-type': 'application/json', authorization: `Bearer ${p.token}` }
    if (i < 3) await fetch(`${api}/api/v1/shares`, { method: 'POST', headers: h, body: JSON.stringify({ channel: 'wechat_friend' }) })
    if (i % 2 === 0) {
      const a = await (await fetch(`${api}/api/v1/attempts`, { method: 'POST', headers: h, body: '{}' })).json()
      for (const q of a.questions) {
        await fetch(`${api}/api/v1/attempts/${a.attempt_id}/answers`, { method: 'POST', headers: h, body: JSON.stringify({ question_id: q.id, choice: [0] }) })
      }
      await fetch(`${api}/api/v1/attempts/${a.attempt_id}/finish`, { method: 'POST', headers: h, body: '{}' })
    }
  }

  // Three small units reach different shares of their targets (300 each), so the unit table
  // shows every rate band: 300 → 已达标, 200 → 良好, 100 → 一般.
  const bulk = [['liling-pukou', 'u-liling-pukou-gov', 300], ['liling-baitutan', 'u-liling-baitutan-gov', 200], ['yanling-xiayang', 'u-yanling-xiayang-gov', 100]]
    .flatMap(([region, unit, n]) => Array.from({ length: n }, (_, i) => [region, unit, i]))
  for (let i = 0; i < bulk.length; i += 25) {
    await Promise.all(bulk.slice(i, i + 25).map(([region, unit, k]) => join_(region, `单位职工${k}`, { unit_id: unit })))
  }

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: !process.env.HEADFUL,
    args: ['--no-sandbox'],
  })
  try {
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', acceptDownloads: true })
    const page = await ctx.newPage()
    const external = []
    page.on('request', (r) => { const u = new URL(r.url()); if (!['127.0.0.1', 'localhost'].includes(u.hostname) && !u.protocol.startsWith('data') && !u.protocol.startsWith('blob')) external.push(r.url()) })
    const consoleErrors = []
    page.on('pageerror', (e) => consoleErrors.push(String(e)))
    // Failed requests (the expected 401 and 403) are logged by the browser itself; anything else is ours.
    page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(m.text()) })

    // ---- admin ----
    await page.goto(ui)
    await page.getByLabel('用户名').fill('admin1')
    await page.getByLabel('密码').fill('wrong password')
    await page.getByRole('button', { name: '登录' }).click()
    await page.getByTestId('login-error').waitFor()
    await page.getByLabel('密码').fill(PASSWORD)
    await page.screenshot({ path: join(shots, 'console-login.png') })
    await page.getByRole('button', { name: '登录' }).click()
    await page.getByTestId('role').filter({ hasText: '管理员' }).waitFor()
    const kpi = page.getByTestId('kpi-participants')
    await kpi.waitFor()
    await page.getByTestId('live-state').filter({ hasText: '实时更新中' }).waitFor({ timeout: 15000 })
    const before = (await kpi.textContent()).trim()
    log('participants on screen before:', before)
    await page.evaluate(() => { window.__noReload = true })
    await join_('hetang-jinshan', '实时测试')
    await page.waitForFunction((b) => document.querySelector('[data-testid=kpi-participants]')?.textContent.trim() !== b, before, { timeout: 15000 })
    const after = (await kpi.textContent()).trim()
    assert.equal(Number(after.replace(/,/g, '')), Number(before.replace(/,/g, '')) + 1, `live figure ${before} → ${after}`)
    assert.equal(await page.evaluate(() => window.__noReload), true, 'the page reloaded')
    log('participants on screen after a join (no reload):', after)
    await page.locator('.feed li', { hasText: '实时测试' }).waitFor({ timeout: 10000 })

    // The server goes away and comes back: the stream reconnects (with Last-Event-ID) by itself.
    process.kill(-server.pid, 'SIGKILL') // a crash: graceful shutdown would wait for the open stream
    await page.getByTestId('live-state').filter({ hasText: '重连' }).waitFor({ timeout: 30000 })
    server = serve()
    await waitFor(`${api}/readyz`)
    await page.getByTestId('live-state').filter({ hasText: '实时更新中' }).waitFor({ timeout: 30000 })
    await join_('hetang-jinshan', '重连之后')
    await page.locator('.feed li', { hasText: '重连之后' }).waitFor({ timeout: 15000 })
    await page.waitForFunction((n) => document.querySelector('[data-testid=kpi-participants]')?.textContent.trim() === n, String(Number(after) + 1), { timeout: 15000 })
    assert.equal(await page.evaluate(() => window.__noReload), true, 'the page reloaded')
    log('live stream reconnected after a server restart; participants now', Number(after) + 1)
    await page.locator('.chart canvas').first().waitFor()
    await page.screenshot({ path: join(shots, 'console-overview.png') })

    await page.getByTestId('tab-regions').click()
    const regions = page.getByTestId('breakdown-region')
    await regions.locator('tr[data-row=hetang]').waitFor()
    await page.getByTestId('sort-participants').click()
    const counts = await regions.locator('tbody tr:not(.summary)').evaluateAll((trs) => trs.map((t) => Number(t.children[1].textContent.replace(/,/g, ''))))
    assert.ok(counts.length > 5 && counts.every((v, i) => i === 0 || counts[i - 1] >= v), `sorted by participants, descending: ${counts}`)
    assert.equal(await regions.locator('tbody tr:not(.summary)').first().getAttribute('data-row'), 'liling')
    await page.screenshot({ path: join(shots, 'console-regions.png'), fullPage: true })
    await regions.locator('tr[data-row=hetang] a').click()
    await regions.locator('tr[data-row=hetang-yuetang]').waitFor()
    await page.screenshot({ path: join(shots, 'console-regions-hetang.png'), fullPage: true })

    await page.getByTestId('tab-units').click()
    await page.getByTestId('breakdown-unit').locator('tbody tr').first().waitFor()
    await page.getByTestId('sort-rate').click()
    const bands = await page.getByTestId('breakdown-unit').locator('tbody tr .band-label').evaluateAll((els) => els.slice(0, 4).map((e) => e.textContent.trim()))
    assert.deepEqual(bands.map((b) => b.split(/\s+/).pop()), ['已达标', '良好', '一般', '落后'], `bands ${bands}`)
    await page.screenshot({ path: join(shots, 'console-units.png') })

    await page.getByTestId('tab-questions').click()
    await page.getByTestId('questions').locator('tbody tr').first().waitFor()
    await page.screenshot({ path: join(shots, 'console-questions.png') })

    await page.getByTestId('tab-relay').click()
    await page.getByTestId('depth-histogram').locator('.hist-row').nth(1).waitFor()
    await page.screenshot({ path: join(shots, 'console-relay.png') })

    await page.getByTestId('tab-flags').click()
    await page.locator('[data-testid=flags][data-state=ready]').waitFor()
    const hideBtn = page.getByTestId('flags').getByRole('button', { name: '从排行榜隐藏' }).first()
    {
      assert.ok(await hideBtn.count(), 'fast answerers are flagged and admins can hide them')
      await hideBtn.click()
      await page.getByTestId('flags').getByRole('button', { name: '恢复显示' }).first().waitFor()
      await page.screenshot({ path: join(shots, 'console-flags.png') })
      await page.getByTestId('flags').getByRole('button', { name: '恢复显示' }).first().click()
      await page.getByTestId('flags').getByRole('button', { name: '恢复显示' }).waitFor({ state: 'detached' })
      log('flags: hid and showed again a flagged participant')
    }

    await page.getByTestId('tab-exports').click()
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-participants').click()])
    const file = join(tmp, download.suggestedFilename())
    await download.saveAs(file)
    const csv = readFileSync(file, 'utf8')
    assert.ok(csv.charCodeAt(0) === 0xfeff, 'export starts with a BOM')
    assert.ok(csv.includes('重连之后'), 'export contains the latest participant')
    await page.getByTestId('export-done').waitFor()
    await page.screenshot({ path: join(shots, 'console-exports.png') })
    log('downloaded', download.suggestedFilename(), csv.length, 'chars')

    await page.getByRole('button', { name: '退出登录' }).click()

    // ---- region-scoped viewer ----
    await page.getByLabel('用户名').fill('hetang1')
    await page.getByLabel('密码').fill(PASSWORD)
    await page.getByRole('button', { name: '登录' }).click()
    await page.getByTestId('scope').filter({ hasText: '荷塘区' }).waitFor()
    assert.equal(await page.getByTestId('tab-flags').count(), 0, 'viewer has no flags tab')
    await kpi.waitFor()
    await page.getByTestId('live-state').filter({ hasText: '实时更新中' }).waitFor({ timeout: 15000 })
    const viewerTotal = (await kpi.textContent()).trim()
    await page.screenshot({ path: join(shots, 'console-viewer-overview.png') })
    await page.getByTestId('tab-regions').click()
    const vr = page.getByTestId('breakdown-region')
    await vr.locator('tbody tr').first().waitFor()
    const hetangTotal = (await vr.locator('tr.summary[data-row=hetang] td').nth(1).textContent()).trim()
    assert.equal(viewerTotal, hetangTotal, 'the viewer overview counts hetang only')
    assert.ok(Number(viewerTotal) < Number(after) + 1, 'the viewer sees fewer participants than the city')
    const ids = await vr.locator('tbody tr[data-row]').evaluateAll((trs) => trs.map((t) => t.dataset.row))
    assert.ok(ids.length > 1 && ids.every((id) => id.startsWith('hetang')), `viewer rows: ${ids}`)
    await page.screenshot({ path: join(shots, 'console-viewer-regions.png') })
    await page.goto(`${ui}#/regions?region=liling`)
    await page.getByTestId('forbidden').waitFor()
    assert.equal(await vr.count(), 0)
    await page.screenshot({ path: join(shots, 'console-viewer-forbidden.png') })
    log('viewer rows', ids.join(','), '; liling refused')

    assert.deepEqual(external, [], 'no requests leave the machine')
    assert.deepEqual(consoleErrors, [], 'no script errors')
    log('OK')
  } finally {
    await browser.close()
  }
}

// Stop what we started and wait for it (baton shuts down gracefully), SIGKILL after 10 s.
async function stopAll() {
  await Promise.all(children.filter((p) => p.exitCode === null && p.signalCode === null).map((p) => new Promise((res) => {
    const t = setTimeout(() => { try { process.kill(-p.pid, 'SIGKILL') } catch { /* gone */ } res() }, 10000)
    p.once('exit', () => { clearTimeout(t); res() })
    try { process.kill(-p.pid, 'SIGTERM') } catch { clearTimeout(t); res() }
  })))
}

main().then(async () => { await stopAll(); process.exit(0) }, async (e) => {
  console.error('[console-e2e] FAILED:', e)
  for (const p of children) console.error('--- output of', p.spawnargs.join(' '), '\n', p.output().slice(-3000))
  await stopAll()
  process.exit(1)
})
