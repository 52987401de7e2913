// The logs view in Chromium against the example shop (run.sh): follow shows a line the web
// service prints within 1 s (printed); search and the service, instance, level and time
// filters narrow the list; then 100k lines served by a route fixture of this test (the
// daemon keeps 2000 lines per service) load into the page, which keeps only the visible rows
// as elements, and a scroll and a search each answer within the speed goal (printed).
// axe-core and a screenshot of the view; no CSP violation or script error. Last, a page
// logged in with a per-user token whose token is revoked (`slipway tokens revoke`) is sent to
// the login form at once: its event stream and its log stream end, and the next request is
// 401 (the time from the revocation to the login form is printed).
import assert from 'node:assert/strict';
import { cpus, loadavg } from 'node:os';
import { URL as API_URL, ADMIN, READER, WEB, launch, step, finish, newPage, axe, shot, login } from './lib.mjs';

const browser = await launch();
const load = () => loadavg()[0] / cpus().length;

async function openLogs(page) {
  await page.getByRole('link', { name: 'Logs' }).click();
  await page.locator('#logs-view').waitFor({ state: 'visible' });
}
const shown = (page) => page.locator('#log-count').getAttribute('data-shown').then(Number);

try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await newPage(ctx);

  await step('follow shows a new line within 1 s', async () => {
    await login(page, READER);
    await openLogs(page);
    assert.equal(await page.getByRole('link', { name: 'Logs' }).getAttribute('aria-current'), 'page');
    await page.locator('#log-count').filter({ hasText: 'following' }).waitFor({ timeout: 15000 });
    const lagOf = async (token) => {
      const t0 = Date.now();
      const r = await fetch(`${WEB}/print?line=${token}`);
      assert.equal(r.status, 200);
      await page.locator('#log-rows .log-row').filter({ hasText: token }).waitFor({ timeout: 10000 });
      return Date.now() - t0;
    };
    const lags = [];
    for (let i = 0; i < 5; i++) lags.push(await lagOf(`ui-follow-${Date.now()}-${i}`));
    const best = Math.min(...lags);
    const median = [...lags].sort((a, b) => a - b)[2];
    const bound = load() > 2 ? 2000 : 1000;
    console.log(`follow: print → row ${lags.join(', ')} ms (median ${median}; bound ${bound} ms on the median)`);
    assert.ok(median <= bound, `follow median ${median} ms (best ${best})`);
    await shot(page, 'logs');
    await axe(page, 'logs');
  });

  await step('search and the filters narrow the list', async () => {
    const token = `ui-search-${Date.now()}`;
    await fetch(`${WEB}/print?line=${token}`);
    await page.locator('#log-rows .log-row').filter({ hasText: token }).waitFor({ timeout: 10000 });
    const all = await shown(page);
    await page.locator('#log-search').fill(token);
    await page.waitForFunction(() => document.getElementById('log-count').dataset.shown === '1');
    assert.equal(await page.locator('#log-rows .log-row').count(), 1);
    await page.locator('#log-search').fill('');
    await page.waitForFunction((n) => Number(document.getElementById('log-count').dataset.shown) >= n, all);
    // Service: only web's lines.
    await page.locator('#log-service').selectOption('web');
    const webOnly = await shown(page);
    assert.ok(webOnly > 0 && webOnly <= all, `web ${webOnly} of ${all}`);
    const srcs = await page.locator('#log-rows .log-row .src').allTextContents();
    assert.ok(srcs.every((s) => s.trim().startsWith('web.')), srcs.join('|'));
    await page.locator('#log-service').selectOption('');
    // Instance: one instance of api (two replicas).
    const instances = await page.locator('#log-instance option').allTextContents();
    const api1 = instances.find((x) => x.startsWith('api.'));
    if (api1) {
      await page.locator('#log-instance').selectOption(api1);
      const srcs1 = await page.locator('#log-rows .log-row .src').allTextContents();
      assert.ok(srcs1.every((s) => s.trim().startsWith(api1)), srcs1.join('|'));
      assert.ok((await shown(page)) < all);
      await page.locator('#log-instance').selectOption('');
    }
    // Level: only error rows.
    await page.locator('#log-level').selectOption('error');
    const classes = await page.locator('#log-rows .log-row').evaluateAll((rs) => rs.map((r) => r.className));
    assert.ok(classes.every((c) => c.includes('lvl-error')), classes.join('|'));
    await page.locator('#log-level').selectOption('');
    // Time: the last minute holds the line just printed, not more than all kept (read in the
    // same breath: the worker's ticks keep coming, so `all` above may be behind by now).
    await page.locator('#log-since').selectOption('60');
    const [, recentText, keptText] = /Showing (\d+) of (\d+) lines/.exec(await page.locator('#log-count').textContent());
    const recent = Number(recentText);
    assert.ok(recent >= 1 && recent <= Number(keptText), `last minute ${recent} of ${keptText}`);
    await page.locator('#log-since').selectOption('0');
    console.log(`lines: all ${all}, web ${webOnly}, last minute ${recent}`);
  });

  await step('no CSP violation or script error', async () => {
    assert.deepEqual(page.problems, []);
  });
  await ctx.close();

  await step('100k lines: the page stays responsive', async () => {
    const N = 100000;
    const services = ['api', 'web', 'worker', 'shop'];
    const t0 = Date.now() - N;
    let body = '';
    for (let i = 0; i < N; i++) {
      const level = i % 10 === 0 ? 'error' : i % 7 === 0 ? 'warn' : 'info';
      body += JSON.stringify({
        t: t0 + i,
        service: services[i % 4],
        instance: 1 + (i % 2),
        stderr: level === 'error',
        text: `level=${level} line ${i} of the fixture${i % 10 === 3 ? ' needle' : ''}`,
      }) + '\n';
    }
    const bctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const bpage = await newPage(bctx);
    // The fixture answers the first read of the logs; a reconnect (with `since`) gets nothing.
    await bpage.route((u) => u.pathname === '/api/v1/logs', (route) =>
      route.fulfill({
        status: 200,
        contentType: 'application/x-ndjson',
        body: new URL(route.request().url()).searchParams.has('since') ? '' : body,
      }),
    );
    await login(bpage, ADMIN);
    const tLoad = Date.now();
    await openLogs(bpage);
    await bpage.waitForFunction((n) => document.getElementById('log-count').dataset.shown === String(n), N, { timeout: 60000 });
    const loadMs = Date.now() - tLoad;
    const rows = await bpage.locator('#log-rows .log-row').count();
    assert.ok(rows < 200, `${rows} row elements for ${N} lines`);
    assert.match(await bpage.locator('#log-count').textContent(), /keeps the last 100,000 lines/);
    // A scroll to the middle: the rows there are drawn by the next frames.
    const scrollMs = await bpage.evaluate(async () => {
      const list = document.getElementById('log-list');
      const t = performance.now();
      list.scrollTop = list.scrollHeight / 2;
      for (;;) {
        await new Promise((r) => requestAnimationFrame(r));
        const first = Number(document.getElementById('log-rows').dataset.first);
        if (Math.abs(first * 20 - list.scrollTop) < 2000) break;
      }
      return performance.now() - t;
    });
    const firstShown = await bpage.locator('#log-rows .log-row').first().textContent();
    assert.match(firstShown, /line 4\d{4} /);
    // A search over the 100k lines.
    const tSearch = Date.now();
    await bpage.locator('#log-search').fill('needle');
    await bpage.waitForFunction((n) => document.getElementById('log-count').dataset.shown === String(n), N / 10, { timeout: 10000 });
    const searchMs = Date.now() - tSearch; // includes the input's 150 ms debounce
    // A level filter on top.
    const tLevel = Date.now();
    await bpage.locator('#log-level').selectOption('info');
    await bpage.waitForFunction(() => document.getElementById('log-count').dataset.shown !== '10000', null, { timeout: 10000 });
    const levelMs = Date.now() - tLevel;
    const bound = load() > 2 ? 3 : 1;
    console.log(`100k lines: loaded and counted in ${loadMs} ms, ${rows} row elements; scroll to the middle drawn in ` +
      `${scrollMs.toFixed(0)} ms; search ${searchMs} ms (150 ms of it debounce); level filter ${levelMs} ms`);
    assert.ok(scrollMs < 200 * bound, `scroll ${scrollMs} ms`);
    assert.ok(searchMs < 1000 * bound, `search ${searchMs} ms`);
    assert.ok(levelMs < 500 * bound, `level filter ${levelMs} ms`);
    await shot(bpage, 'logs-100k');
    assert.deepEqual(bpage.problems, []);
    await bctx.close();
  });
  await step('a revoked token ends its open page at once', async () => {
    const admin = { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' };
    const made = await fetch(`${API_URL}/api/v1/tokens`, {
      method: 'POST', headers: admin, body: JSON.stringify({ name: 'ui-revoked', role: 'viewer' }),
    });
    assert.equal(made.status, 200);
    const { token } = await made.json();
    const rctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const rpage = await newPage(rctx);
    // Two tabs of one browser: the services view (event stream) and the logs view (logs -f).
    await login(rpage, token);
    await rpage.locator('#updated[data-mode="live"]').waitFor({ timeout: 15000 });
    const rpage2 = await newPage(rctx);
    await rpage2.goto(`${API_URL}/ui/#/logs`);
    await rpage2.locator('#log-count').filter({ hasText: 'following' }).waitFor({ timeout: 15000 });
    const t0 = Date.now();
    const revoked = await fetch(`${API_URL}/api/v1/tokens/ui-revoked`, { method: 'DELETE', headers: admin });
    assert.equal(revoked.status, 200);
    // Nothing is asked of the daemon by the page itself while its streams are open: only their
    // end brings it back to the login form.
    await Promise.all([rpage, rpage2].map((p) => p.locator('#login-view').waitFor({ state: 'visible', timeout: 15000 })));
    const ms = Date.now() - t0;
    assert.match(await rpage.locator('#login-error').textContent(), /session ended/);
    assert.match(await rpage2.locator('#login-error').textContent(), /session ended/);
    assert.equal(await rpage.evaluate(async () => (await fetch('/api/v1/ps')).status), 401);
    console.log(`revoked token: both tabs at the login form ${ms} ms after the revocation`);
    await shot(rpage, 'revoked-session');
    assert.deepEqual(rpage.problems, []);
    assert.deepEqual(rpage2.problems, []);
    await rctx.close();
  });
} finally {
  await browser.close();
}

finish();
