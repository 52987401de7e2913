// What every dashboard suite shares (run through tests/ui/run.sh, which exports the
// SLIPWAY_* variables): the environment, Debian's Chromium through playwright-core, steps that
// record failures instead of stopping the suite, pages that record CSP violations and script
// errors, axe-core, screenshots and the login form.
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const URL = process.env.SLIPWAY_UI_URL;
export const ADMIN = process.env.SLIPWAY_ADMIN_TOKEN;
export const READER = process.env.SLIPWAY_READ_TOKEN;
export const DEPLOYER = process.env.SLIPWAY_DEPLOY_TOKEN;
export const VIEWER = process.env.SLIPWAY_VIEWER_TOKEN;
export const WEB = process.env.SLIPWAY_WEB_URL;
export const SHOTS = process.env.SLIPWAY_UI_SHOTS;
assert.ok(URL && ADMIN && READER && SHOTS && DEPLOYER && VIEWER, 'run through tests/ui/run.sh');
mkdirSync(SHOTS, { recursive: true });

export function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    // launch() gives the browser a fresh profile folder of its own and removes it on close.
  });
}

export const failures = [];
export async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failures.push(name);
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}

// Ends the suite: its exit status says whether every step passed.
export function finish() {
  console.log(`screenshots in ${SHOTS}`);
  if (failures.length) {
    console.log(`${failures.length} step(s) failed: ${failures.join('; ')}`);
    process.exit(1);
  }
  console.log('all steps passed');
}

// A page that records CSP violations and script errors: either fails the run.
export async function newPage(context) {
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => {
    // A refused fetch (401 before login, the viewer's forced 403) is logged by the browser
    // as a failed resource: expected here, asserted on where it happens.
    if (m.type() === 'error' && !/Failed to load resource: .* (401|403)/.test(m.text())) {
      // The message does not name the resource: its location does.
      const where = m.location() && m.location().url;
      page.problems.push(where ? `${m.text()} [${where}]` : m.text());
    }
  });
  page.on('pageerror', (e) => page.problems.push(String(e)));
  return page;
}

export async function axe(page, view) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ['violations'] }),
  );
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  console.log(`axe ${view}: ${result.violations.length} violations, ${bad.length} serious or critical`);
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`),
    [],
    `axe on ${view}`,
  );
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

export async function login(page, token) {
  await page.goto(`${URL}/ui/`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#services tbody tr[data-service="api"]').waitFor({ timeout: 15000 });
}
