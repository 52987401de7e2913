// The dashboard's flags, alerts, metrics, backups and migrations views in Debian's Chromium
// against the example shop (run.sh): two flags set through the admin API; toggling one
// changes what OFREP answers (asked from here, with the project's OFREP read token); the
// rollout slider's preview, evaluated by the daemon, follows the percentage, and an applied
// rollout serves what the preview showed; a viewer gets no edit controls and a forced change
// is 403; switching environment shows that environment's state of a flag; a stale flag is
// marked with the API's reason; a deployer's edit is in the flag's history under the user the
// daemon proved (a name claimed in the body is kept beside it, never instead); the suite's
// ShopServerErrors rule (ops.compose.yaml) fires when the test sends 5xx through the proxy
// and the alert is listed; a silence made in the dialog marks it silenced, and expired
// (after the confirm) no longer does; a panel of x-slipway.dashboard renders with data and a bad
// expression shows the query API's error; the shop has no database, so backups and
// migrations show their empty states. axe-core and a screenshot on every view; no CSP
// violation or script error.
import assert from 'node:assert/strict';
import {
  URL, ADMIN, DEPLOYER, VIEWER, WEB, launch, step, finish, newPage, axe, shot, login,
} from './lib.mjs';

const FLAGS_TOKEN = process.env.SLIPWAY_FLAGS_TOKEN;
assert.ok(FLAGS_TOKEN, 'run.sh exports SLIPWAY_FLAGS_TOKEN');

// 20 sample targeting keys: at 50% both variants show (all alike has odds of 2 in a million).
const KEYS = Array.from({ length: 20 }, (_, i) => `user-${i}`);

// Two flags, set through the admin API as `slipway flags set` does (the shop declares none).
const FLAGS = {
  'new-checkout': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' },
  'banner-color': {
    state: 'ENABLED', variants: { red: '#c00000', blue: '#0060c0' }, defaultVariant: 'red',
  },
};
// new-checkout in a second environment, disabled there (enabled in the default one).
const STAGING = 'staging';
{
  const r = await fetch(`${URL}/api/v1/flags/new-checkout?env=${STAGING}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ definition: { ...FLAGS['new-checkout'], state: 'DISABLED' } }),
  });
  assert.equal(r.status, 200, `PUT flag new-checkout in ${STAGING}: ${await r.text()}`);
}
async function adminGet(path) {
  const r = await fetch(`${URL}${path}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  assert.equal(r.status, 200, `GET ${path}`);
  return r.json();
}
for (const [key, definition] of Object.entries(FLAGS)) {
  const r = await fetch(`${URL}/api/v1/flags/${key}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ definition, comment: 'ui ops suite' }),
  });
  assert.equal(r.status, 200, `PUT flag ${key}: ${await r.text()}`);
}

async function ofrep(key, targetingKey) {
  const r = await fetch(`${URL}/ofrep/v1/evaluate/flags/${key}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${FLAGS_TOKEN}` },
    body: JSON.stringify({ context: { targetingKey } }),
  });
  assert.equal(r.status, 200, `OFREP ${key}`);
  return r.json();
}

async function tab(page, name, view) {
  await page.getByRole('link', { name }).click();
  await page.locator(`#${view}-view`).waitFor({ state: 'visible' });
  assert.equal(await page.getByRole('link', { name }).getAttribute('aria-current'), 'page');
}

// The refusals this suite provokes on purpose (a bad expression: 400; a backup without a
// database: 409) are logged by the browser as failed resources; anything else is a problem.
const unexpected = (p) => p.problems.filter((m) => !/Failed to load resource: .* (400|409)/.test(m));

const browser = await launch();
try {
  const admin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await newPage(admin);
  const flagRow = (p, key) => p.locator(`#flags tbody tr[data-flag="${key}"]`);

  await step('flags: the list, and a toggle changes what OFREP answers', async () => {
    await login(page, ADMIN);
    await tab(page, 'Flags', 'flags');
    await flagRow(page, 'banner-color').waitFor();
    await flagRow(page, 'new-checkout').waitFor();
    // Both variants, by name (the daemon keeps a flag's variants as a map: sorted).
    assert.match(await flagRow(page, 'new-checkout').textContent(), /off, on/);
    assert.equal((await ofrep('banner-color', 'u1')).value, '#c00000');
    await page.getByRole('button', { name: 'Disable banner-color' }).click();
    await page.getByRole('button', { name: 'Enable banner-color' }).waitFor();
    const off = await ofrep('banner-color', 'u1');
    assert.equal(off.reason, 'DISABLED');
    assert.equal(off.value, undefined);
    await page.getByRole('button', { name: 'Enable banner-color' }).click();
    await page.getByRole('button', { name: 'Disable banner-color' }).waitFor();
    assert.equal((await ofrep('banner-color', 'u1')).value, '#c00000');
    await shot(page, 'flags');
    await axe(page, 'flags');
  });

  const previewOn = async () => {
    const variants = await page.locator('#preview tbody tr td:first-of-type').allTextContents();
    return variants.filter((v) => v === 'on').length;
  };
  const setSlider = async (value) => {
    await page.locator('#rollout-percent').evaluate((el, v) => {
      el.value = String(v);
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }, value);
    await page.waitForFunction(
      (v) => document.querySelector('#preview').dataset.percent === String(v) &&
        document.querySelectorAll('#preview tbody tr').length === 20,
      value,
    );
  };

  await step('flags: the slider preview follows the percentage; the applied rollout serves it', async () => {
    await page.getByRole('button', { name: 'Details of new-checkout' }).click();
    await page.locator('#flag-detail').waitFor({ state: 'visible' });
    await page.getByLabel('Sample targeting keys (comma-separated)').fill(KEYS.join(','));
    await setSlider(0);
    assert.equal(await previewOn(), 0, 'at 0% nobody gets on');
    await setSlider(100);
    assert.equal(await previewOn(), 20, 'at 100% everybody gets on');
    await setSlider(50);
    const half = await previewOn();
    assert.ok(half > 0 && half < 20, `at 50% some get on (${half} of 20)`);
    const shown = new Map();
    for (const tr of await page.locator('#preview tbody tr').all()) {
      shown.set(await tr.getAttribute('data-targeting-key'), await tr.locator('td').first().textContent());
    }
    await shot(page, 'flags-rollout-preview');
    await page.getByRole('button', { name: 'Apply rollout' }).click();
    await page.locator('#flag-history li', { hasText: 'rollout' }).first().waitFor();
    for (const k of KEYS) {
      const e = await ofrep('new-checkout', k);
      assert.equal(e.variant, shown.get(k), `OFREP for ${k} serves what the preview showed`);
    }
    assert.match(await flagRow(page, 'new-checkout').textContent(), /on 50%, off 50%/);
    await axe(page, 'flags (detail)');
  });

  await step('a viewer has no edit controls on flags; a forced toggle and rollout are 403', async () => {
    const viewer = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const vpage = await newPage(viewer);
    await login(vpage, VIEWER);
    await tab(vpage, 'Flags', 'flags');
    await flagRow(vpage, 'banner-color').waitFor();
    assert.equal(await vpage.getByRole('button', { name: /^(Enable|Disable) / }).count(), 0);
    await vpage.getByRole('button', { name: 'Details of new-checkout' }).click();
    await vpage.locator('#preview tbody tr').first().waitFor();
    assert.equal(await vpage.getByRole('button', { name: 'Apply rollout' }).count(), 0);
    assert.equal(await vpage.locator('#rollout-percent').isVisible(), false);
    const forced = await vpage.evaluate(async () => {
      const s = await (await fetch('/api/v1/session')).json();
      const post = (path, body) => fetch(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf },
        body: JSON.stringify(body),
      });
      const d = await post('/api/v1/flags/banner-color/disable', {});
      const r = await post('/api/v1/flags/new-checkout/rollout', { percent: 100 });
      return [d.status, r.status];
    });
    assert.deepEqual(forced, [403, 403]);
    assert.equal((await ofrep('banner-color', 'u1')).value, '#c00000', 'nothing changed');
    await shot(vpage, 'flags-viewer');
    await axe(vpage, 'flags (viewer)');
    assert.deepEqual(vpage.problems, []);
    await viewer.close();
  });
  const stateOf = (p, key) => flagRow(p, key).locator('td[data-key="state"]');

  await step('flags: switching environment shows that environment\'s state of a flag', async () => {
    const envs = await adminGet('/api/v1/flags/environments');
    assert.deepEqual(envs.environments, ['default', STAGING]);
    const select = page.getByLabel('Environment', { exact: true });
    assert.deepEqual(await select.locator('option').allTextContents(), envs.environments);
    assert.equal(await select.inputValue(), envs.default);
    assert.equal(await stateOf(page, 'new-checkout').textContent(), 'enabled');
    await select.selectOption(STAGING);
    await page.waitForFunction(() => {
      const c = document.querySelector('#flags tbody tr[data-flag="new-checkout"] td[data-key="state"]');
      return c && c.textContent === 'disabled';
    });
    // Only new-checkout exists in staging.
    assert.equal(await page.locator('#flags tbody tr').count(), 1);
    const staged = await adminGet(`/api/v1/flags?env=${STAGING}`);
    assert.equal(staged.flags[0].definition.state, 'DISABLED');
    await shot(page, 'flags-staging');
    await axe(page, 'flags (staging)');
    await select.selectOption('default');
    await page.waitForFunction(() => {
      const c = document.querySelector('#flags tbody tr[data-flag="new-checkout"] td[data-key="state"]');
      return c && c.textContent === 'enabled';
    });
    await flagRow(page, 'banner-color').waitFor();
  });

  await step('flags: a stale flag is marked with its reason, a flag in rollout is not', async () => {
    const stale = await adminGet('/api/v1/flags/stale?env=default');
    const why = new Map(stale.flags.map((f) => [f.key, f.why]));
    // banner-color has no targeting: everybody gets its default, the flag could go.
    assert.equal(why.get('banner-color'), 'fully rolled out (static "red")');
    assert.equal(why.has('new-checkout'), false, 'new-checkout is at 50%');
    const cell = flagRow(page, 'banner-color').locator('td.stale');
    assert.equal(await cell.textContent(), why.get('banner-color'));
    assert.equal(await flagRow(page, 'new-checkout').locator('td.stale').count(), 0);
  });

  await step('flags: a deployer\'s edit is in the flag\'s history with the user and the time', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const dpage = await newPage(ctx);
    await login(dpage, DEPLOYER);
    await tab(dpage, 'Flags', 'flags');
    const before = Date.now();
    await dpage.getByRole('button', { name: 'Disable banner-color' }).click();
    await dpage.getByRole('button', { name: 'Enable banner-color' }).waitFor();
    await dpage.getByRole('button', { name: 'Details of banner-color' }).click();
    const newest = dpage.locator('#flag-history li').first();
    await newest.waitFor();
    assert.match(await newest.textContent(), /: disable by ui-deployer \(dashboard\)$/);
    // The API's history says the same, with a time from this edit.
    const h = await adminGet('/api/v1/flags/banner-color/history?env=default&limit=1');
    assert.equal(h[0].action, 'disable');
    assert.equal(h[0].actor, 'ui-deployer (dashboard)');
    assert.ok(h[0].t >= before - 1000 && h[0].t <= Date.now() + 1000, `edit time ${h[0].t}`);
    assert.ok((await newest.textContent()).startsWith(await dpage.evaluate((t) => new Date(t).toLocaleString(), h[0].t)));
    // A name claimed in the body does not replace the proven one.
    const forged = await dpage.evaluate(async () => {
      const s = await (await fetch('/api/v1/session')).json();
      const r = await fetch('/api/v1/flags/banner-color/enable', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf },
        body: JSON.stringify({ actor: 'somebody-else' }),
      });
      return r.status;
    });
    assert.equal(forged, 200);
    const h2 = await adminGet('/api/v1/flags/banner-color/history?env=default&limit=1');
    assert.equal(h2[0].actor, 'somebody-else (ui-deployer (dashboard))');
    await dpage.getByRole('button', { name: 'Details of banner-color' }).click();
    await dpage.locator('#flag-history li', { hasText: 'somebody-else' }).first().waitFor();
    assert.equal((await ofrep('banner-color', 'u1')).value, '#c00000', 'enabled again');
    await shot(dpage, 'flags-history');
    await axe(dpage, 'flags (history)');
    assert.deepEqual(dpage.problems, []);
    await ctx.close();
  });

  await step('alerts: a 5xx through the proxy fires ShopServerErrors and it is listed', async () => {
    await tab(page, 'Alerts', 'alerts');
    await page.locator('#alerts-rules tbody tr[data-rule="ShopServerErrors"]').waitFor();
    // 5xx answers from the web service (testapp /status/500), until the rule fires.
    let sending = true;
    const traffic = (async () => {
      while (sending) {
        try {
          await fetch(`${WEB}/status/500`, { signal: AbortSignal.timeout(2000) });
        } catch {
          // counted or not, the next one follows
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await page.locator('#alerts-active tbody tr[data-rule="ShopServerErrors"][data-state="firing"]')
        .waitFor({ timeout: 60000 });
    } finally {
      sending = false;
      await traffic;
    }
    assert.match(await page.locator('#alerts-active tbody tr[data-rule="ShopServerErrors"]').textContent(),
      /web answers 5xx/);
    await page.locator('#alerts-history tbody tr[data-rule="ShopServerErrors"]').first().waitFor();
    await shot(page, 'alerts');
    await axe(page, 'alerts');
  });
  await step('alerts: a silence from the dialog marks the alert silenced; expired, it is not', async () => {
    await page.locator('#silence-new').click();
    const dialog = page.locator('#silence-dialog');
    await dialog.locator('#silence-matchers').fill('alertname="ShopServerErrors"');
    await dialog.locator('#silence-duration').fill('1h');
    await dialog.locator('#silence-comment').fill('ui test');
    await dialog.getByRole('button', { name: 'Silence', exact: true }).click();
    const row = page.locator('#alerts-silences tbody tr[data-state="active"]');
    await row.waitFor();
    assert.match(await row.textContent(), /alertname="ShopServerErrors".*ui test/);
    await page.locator('#alerts-active tbody tr[data-rule="ShopServerErrors"][data-silenced="true"]').waitFor();
    assert.match(await page.locator('#alerts-active tbody tr[data-rule="ShopServerErrors"]').textContent(),
      /\(silenced\)/);
    await axe(page, 'alerts (silenced)');
    await row.getByRole('button', { name: /Expire silence/ }).click();
    await page.locator('#confirm').getByRole('button', { name: 'Expire', exact: true }).click();
    await page.locator('#alerts-silences tbody tr[data-state="expired"]').waitFor();
    await page.locator('#alerts-active tbody tr[data-rule="ShopServerErrors"]:not([data-silenced])').waitFor();
  });

  await step('metrics: a declared panel renders with data; a bad expression shows the API error', async () => {
    await tab(page, 'Metrics', 'metrics');
    const panel = page.locator('#panels [data-panel="0"]');
    await panel.getByRole('heading', { name: 'Requests per second by service' }).waitFor();
    // The requests sent above are in the series store: a line and a legend naming the route.
    // Attached, not "visible": a steady rate is a flat line, whose box has no height.
    await panel.locator('svg polyline').first().waitFor({ state: 'attached', timeout: 20000 });
    assert.match(await panel.locator('.legend').textContent(), /route="web"/);
    await page.getByLabel('PromQL expression').fill('sum(rate(slipway_http_requests_total[1m]');
    await page.getByRole('button', { name: 'Run' }).click();
    const err = page.locator('#query-chart [role="alert"]');
    await err.waitFor();
    const direct = await page.evaluate(async () => {
      const q = new URLSearchParams({
        query: 'sum(rate(slipway_http_requests_total[1m]', start: '0', end: '1', step: '1',
      });
      return (await (await fetch(`/api/v1/query_range?${q}`)).json()).error;
    });
    assert.ok(direct && direct.length > 0);
    assert.equal(await err.textContent(), direct);
    await page.getByLabel('PromQL expression').fill('sum by (route) (slipway_http_requests_total)');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.locator('#query-chart svg polyline').first().waitFor({ state: 'attached' });
    await shot(page, 'metrics');
    await axe(page, 'metrics');
    assert.deepEqual(unexpected(page), []);
  });

  await step('backups and migrations: the shop has no database, both say so', async () => {
    await tab(page, 'Backups', 'backups');
    await page.locator('#backups-list .empty').waitFor();
    assert.match(await page.locator('#backups-list').textContent(), /no databases/);
    const forced = await page.evaluate(async () => {
      const s = await (await fetch('/api/v1/session')).json();
      const r = await fetch('/api/v1/backups', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf },
        body: '{}',
      });
      return [r.status, (await r.json()).error];
    });
    assert.equal(forced[0], 409, 'a backup without databases is 409');
    assert.match(forced[1], /no databases/);
    await shot(page, 'backups');
    await axe(page, 'backups');
    await tab(page, 'Migrations', 'migrations');
    await page.locator('#migrations-list .empty').waitFor();
    assert.match(await page.locator('#migrations-list').textContent(), /no databases/);
    await shot(page, 'migrations');
    await axe(page, 'migrations');
    assert.deepEqual(unexpected(page), []);
  });

  await step('a viewer sees the backups without buttons; a forced backup is 403', async () => {
    const viewer = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const vpage = await newPage(viewer);
    await login(vpage, VIEWER);
    await tab(vpage, 'Backups', 'backups');
    await vpage.locator('#backups-list .empty').waitFor();
    assert.equal(await vpage.getByRole('button', { name: /^(Back up|Verify)/ }).count(), 0);
    const status = await vpage.evaluate(async () => {
      const s = await (await fetch('/api/v1/session')).json();
      const r = await fetch('/api/v1/backups', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf },
        body: '{}',
      });
      return r.status;
    });
    assert.equal(status, 403);
    await axe(vpage, 'backups (viewer)');
    assert.deepEqual(vpage.problems, []);
    await viewer.close();
  });

} finally {
  await browser.close();
}
finish();
