// The dashboard's migrations and backups views in Debian's Chromium against the shop with a
// real PostgreSQL (databases.compose.sh: a `db` service of the stack, x-slipway.databases.main
// on it, one SQL migration): the view shows the migration pending, `slipway migrate up` (the
// CLI, in the project) applies it, and the view lists it applied with its time, as the API
// has it; a backup made by the button (after its confirm dialog; cancelled first, nothing is
// made) is listed, verified at once, and verifying it again by its button moves "last
// verified restore"; a viewer sees the same without buttons and a forced backup is 403.
// axe-core and a screenshot on every view; no CSP violation or script error.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  URL, ADMIN, VIEWER, launch, step, finish, newPage, axe, shot, login,
} from './lib.mjs';

const BIN = process.env.SLIPWAY_BIN;
const WORK = process.env.SLIPWAY_UI_WORK;
assert.ok(BIN && WORK, 'run.sh exports SLIPWAY_BIN and SLIPWAY_UI_WORK');

async function adminGet(path) {
  const r = await fetch(`${URL}${path}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  assert.equal(r.status, 200, `GET ${path}`);
  return r.json();
}

async function tab(page, name, view) {
  await page.getByRole('link', { name }).click();
  await page.locator(`#${view}-view`).waitFor({ state: 'visible' });
}

const browser = await launch();
try {
  const admin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await newPage(admin);
  await login(page, ADMIN);

  await step('migrations: pending, then applied by `slipway migrate up`, listed with its time', async () => {
    await tab(page, 'Migrations', 'migrations');
    const dbRow = page.locator('#migrations-list tbody tr', { hasText: 'built-in SQL runner' });
    await dbRow.waitFor();
    assert.match(await dbRow.textContent(), /main.*1 pending/);
    const before = Date.now();
    execFileSync(BIN, ['migrate', 'up'], { cwd: WORK, stdio: 'pipe', timeout: 60000 });
    const after = Date.now();
    const api = await adminGet('/api/v1/migrations');
    const main = api.databases.find((d) => d.name === 'main');
    assert.equal(main.status.pending, 0, JSON.stringify(main.status));
    const m = main.status.migrations.find((x) => String(x.version).endsWith('1'));
    assert.ok(m && m.state === 'applied', JSON.stringify(main.status.migrations));
    assert.ok(m.applied_ms >= before - 2000 && m.applied_ms <= after + 2000, `applied at ${m.applied_ms}`);
    // The view reads the migrations again when opened.
    await tab(page, 'Backups', 'backups');
    await tab(page, 'Migrations', 'migrations');
    const applied = page.locator('#migrations-list table', { hasText: 'Migrations of main' })
      .locator('tbody tr', { hasText: 'orders' })
      // The view may still show the row it drew before it read the list again: wait for the new.
      .filter({ hasText: 'applied' });
    await applied.waitFor();
    const when = await page.evaluate((t) => new Date(t).toLocaleString(), m.applied_ms);
    const text = await applied.textContent();
    assert.ok(text.includes('applied') && text.includes(when), `${text} has "applied" and ${when}`);
    await dbRow.filter({ hasText: /0 pending/ }).waitFor({ timeout: 5000 });
    await shot(page, 'migrations-postgres');
    await axe(page, 'migrations (postgres)');
  });

  await step('backups: a backup by button (confirmed) is listed; verified, the last verified restore moves', async () => {
    await tab(page, 'Backups', 'backups');
    const dbRow = page.locator('#backups-list tr[data-database="main"]');
    await dbRow.waitFor();
    assert.equal((await adminGet('/api/v1/backups')).backups.length, 0);
    assert.match(await dbRow.textContent(), /never.*never/);
    // Cancelled: nothing is made.
    await page.getByRole('button', { name: 'Back up main now' }).click();
    const dialog = page.locator('#confirm');
    await dialog.waitFor({ state: 'visible' });
    assert.equal(await dialog.locator('#confirm-title').textContent(), 'Back up main now?');
    await shot(page, 'backups-confirm');
    await axe(page, 'backups (confirm)');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await adminGet('/api/v1/backups')).backups.length, 0, 'cancelled: no backup');
    // Confirmed: the backup is made and listed.
    await page.getByRole('button', { name: 'Back up main now' }).click();
    await dialog.getByRole('button', { name: 'Back up', exact: true }).click();
    const bRow = page.locator('#backups-list tr[data-backup]');
    await bRow.first().waitFor({ timeout: 30000 });
    const list = await adminGet('/api/v1/backups');
    assert.equal(list.backups.length, 1);
    const b = list.backups[0];
    assert.equal(b.database, 'main');
    assert.ok(b.size > 0, `backup size ${b.size}`);
    // A backup made here is verified at once (a restore into a scratch database, its check
    // query run): listed as such, and the database's last verified restore is set.
    const first = list.databases.find((d) => d.name === 'main');
    assert.ok(b.verified_ms > 0 && first.last_verified_ms === b.verified_ms, JSON.stringify(list));
    const shown = (t) => page.evaluate((ms) => new Date(ms).toLocaleString(), t);
    assert.match(await bRow.first().textContent(),
      new RegExp(`#${b.id} .*main.*${b.verify_status} \\(${await shown(b.verified_ms)}\\)`));
    assert.match(await dbRow.textContent(), /^main1/);
    assert.ok((await dbRow.textContent()).includes(await shown(first.last_verified_ms)));
    // Verified again by its button: the last verified restore moves.
    await page.getByRole('button', { name: `Verify backup ${b.id}` }).click();
    await page.locator('#backups-status', { hasText: `Backup ${b.id} verified` }).waitFor({ timeout: 30000 });
    const after = await adminGet('/api/v1/backups');
    const db = after.databases.find((d) => d.name === 'main');
    assert.ok(db.last_verified_ms > first.last_verified_ms,
      `last verified ${first.last_verified_ms} -> ${db.last_verified_ms}`);
    const when = await shown(db.last_verified_ms);
    await page.waitForFunction(
      (w) => document.querySelector('#backups-list tr[data-database="main"]').textContent.includes(w),
      when,
    );
    assert.match(await bRow.first().textContent(), new RegExp(`${after.backups[0].verify_status} \\(${when}\\)`));
    await shot(page, 'backups-postgres');
    await axe(page, 'backups (postgres)');
    assert.deepEqual(page.problems, []);
  });

  await step('a viewer sees the backups of the real database without buttons; a forced backup is 403', async () => {
    const viewer = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const vpage = await newPage(viewer);
    await login(vpage, VIEWER);
    await tab(vpage, 'Backups', 'backups');
    await vpage.locator('#backups-list tr[data-backup]').first().waitFor();
    assert.equal(await vpage.getByRole('button', { name: /^(Back up|Verify)/ }).count(), 0);
    const status = await vpage.evaluate(async () => {
      const s = await (await fetch('/api/v1/session')).json();
      const r = await fetch('/api/v1/backups', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf },
        body: JSON.stringify({ database: 'main' }),
      });
      return r.status;
    });
    assert.equal(status, 403);
    assert.equal((await adminGet('/api/v1/backups')).backups.length, 1, 'nothing made');
    await axe(vpage, 'backups (viewer, postgres)');
    assert.deepEqual(vpage.problems, []);
    await viewer.close();
  });
} finally {
  await browser.close();
}
finish();
