// The browser half of bench/dashboard.sh (which starts the project and exports the SLIPWAY_*
// variables). Prints one line per measurement with its goal; exits 1 when the run failed.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../tests/ui/package.json'));
const { chromium } = require('playwright-core');

const URL = process.env.SLIPWAY_UI_URL;
const TOKEN = process.env.SLIPWAY_ADMIN_TOKEN;
const DAEMON = Number(process.env.SLIPWAY_DAEMON_PID);
const SERVICES = Number(process.env.SLIPWAY_SERVICES);
const LOG_LINES = Number(process.env.SLIPWAY_LOG_LINES);
const LAG_SAMPLES = Number(process.env.LAG_SAMPLES || 10);
const OPEN_SECONDS = Number(process.env.OPEN_SECONDS || 3600);
if (!URL || !TOKEN || !DAEMON || !SERVICES) {
  console.error('dashboard.mjs: run through bench/dashboard.sh');
  process.exit(2);
}
const ROWS = SERVICES + 1; // and the logger

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
function verdict(ok) {
  return ok ? 'met' : 'MISSED';
}
async function ps() {
  const r = await fetch(`${URL}/api/v1/ps`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  if (!r.ok) throw new Error(`GET /api/v1/ps: ${r.status}`);
  const j = await r.json();
  return Array.isArray(j) ? j : j.instances || j.rows || [];
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
let failed = false;
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${URL}/ui/`);
  await page.getByLabel('Token').fill(TOKEN);
  await page.getByRole('button', { name: 'Log in' }).click();
  const allRows = (n) => document.querySelectorAll('#services tbody tr').length >= n;
  await page.waitForFunction(allRows, ROWS, { timeout: 30000 });

  // First paint and all rows, on a fresh load with the session cookie (5 loads).
  const paints = [];
  const full = [];
  for (let i = 0; i < 5; i += 1) {
    await page.goto('about:blank'); // a new document, not a hash change within the old one
    await page.goto(`${URL}/ui/#/services`);
    await page.waitForFunction(allRows, ROWS, { timeout: 30000, polling: 'raf' });
    const t = await page.evaluate(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      return { fcp: fcp ? fcp.startTime : NaN, rows: performance.now() };
    });
    paints.push(t.fcp);
    full.push(t.rows);
  }
  const fcp = median(paints);
  console.log(
    `first contentful paint: median ${fcp.toFixed(0)} ms of 5 loads (goal < 500 ms: ${verdict(fcp < 500)})`,
  );
  console.log(`all ${ROWS} service rows in the table: median ${median(full).toFixed(0)} ms after navigation`);

  // Live data: kill one instance by its PID; time until its row shows it.
  const lags = [];
  for (let i = 0; i < LAG_SAMPLES; i += 1) {
    const rows = await ps();
    const name = `s${String(1 + ((i * 7) % SERVICES)).padStart(3, '0')}`;
    const row = rows.find((r) => r.service === name && r.pid > 0 && r.state === 'running');
    if (!row) {
      await sleep(1000);
      continue;
    }
    const before = await page.evaluate((svc) => {
      const tr = document.querySelector(`#services tbody tr[data-service="${svc}"]`);
      return ['state', 'instances', 'health', 'restarts']
        .map((k) => tr.querySelector(`[data-key="${k}"]`).textContent)
        .join('|');
    }, name);
    const t0 = Date.now();
    process.kill(row.pid, 'SIGKILL');
    await page.waitForFunction(
      ([svc, was]) => {
        const tr = document.querySelector(`#services tbody tr[data-service="${svc}"]`);
        const now = ['state', 'instances', 'health', 'restarts']
          .map((k) => tr.querySelector(`[data-key="${k}"]`).textContent)
          .join('|');
        return now !== was;
      },
      [name, before],
      { timeout: 10000, polling: 'raf' },
    );
    lags.push(Date.now() - t0);
    await sleep(1500); // let it come back before the next one
  }
  if (!lags.length) throw new Error('no running instance to kill');
  const worst = Math.max(...lags);
  console.log(
    `live lag (kill to row changed): median ${median(lags)} ms, max ${worst} ms of ${lags.length} ` +
      `(goal <= 1000 ms: ${verdict(worst <= 1000)})`,
  );

  // Logs: every kept line in the page, the longest task meanwhile, then a search.
  if (LOG_LINES > 0) {
    await page.goto(`${URL}/ui/#/logs`);
    await page.evaluate(() => {
      window.__longest = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
      }).observe({ type: 'longtask', buffered: true });
    });
    await page.waitForFunction(() => !document.getElementById('logs-view').hidden);
    const l0 = Date.now();
    writeFileSync(process.env.SLIPWAY_LOG_TRIGGER, '');
    const want = Math.min(LOG_LINES, 100000);
    let kept = 0;
    try {
      await page.waitForFunction(
        (n) => Number(document.getElementById('log-count').dataset.shown || 0) >= n,
        want,
        { timeout: 60000 },
      );
      kept = want;
    } catch {
      kept = await page.evaluate(() => Number(document.getElementById('log-count').dataset.shown || 0));
    }
    const loaded = Date.now() - l0;
    const s0 = Date.now();
    await page.fill('#log-search', 'line 4242 ');
    await page.waitForFunction(
      () => Number(document.getElementById('log-count').dataset.shown || 0) < 100,
      null,
      { timeout: 30000 },
    );
    const searched = Date.now() - s0;
    const longest = await page.evaluate(() => window.__longest);
    console.log(
      `logs: ${kept} of ${want} lines in the page ${loaded} ms after the logger began; longest blocking task ` +
        `${longest.toFixed(0)} ms; a search over them answered in ${searched} ms`,
    );
    await page.goto(`${URL}/ui/#/services`);
    await page.waitForFunction(allRows, ROWS, { timeout: 30000 });
  }

  // RSS with the Services view open and live.
  await sleep(10000);
  const first = rssKiB(DAEMON);
  let max = first;
  const t0 = Date.now();
  while (Date.now() - t0 < OPEN_SECONDS * 1000) {
    await sleep(Math.min(30000, OPEN_SECONDS * 1000));
    if (!alive(DAEMON)) throw new Error('the daemon died');
    max = Math.max(max, rssKiB(DAEMON));
  }
  const last = rssKiB(DAEMON);
  const growthMiB = (last - first) / 1024;
  console.log(
    `daemon RSS with the page open ${OPEN_SECONDS} s: ${(first / 1024).toFixed(1)} -> ` +
      `${(last / 1024).toFixed(1)} MiB (max ${(max / 1024).toFixed(1)}), growth ` +
      `${growthMiB.toFixed(1)} MiB (goal < 10 MB per hour: ${verdict(growthMiB * 1.048576 < 10)}` +
      `${OPEN_SECONDS < 3600 ? `, over ${OPEN_SECONDS} s only` : ''})`,
  );
} catch (e) {
  failed = true;
  console.error(`dashboard: ${e.stack || e}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
