// End-to-end: the real OpenFeature JS SDKs (server + OFREP provider, web + OFREP web provider)
// against a running Slipway daemon. The harness passes the daemon's address and a read token:
//   SLIPWAY_OFREP_URL=http://127.0.0.1:PORT SLIPWAY_FLAGS_TOKEN=... SLIPWAY_ADMIN_TOKEN=... \
//     node --test tests/ofrep/
// The daemon must serve tests/ofrep/flags.json as its default environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenFeature as ServerOF } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature as WebOF } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

const baseUrl = process.env.SLIPWAY_OFREP_URL;
const token = process.env.SLIPWAY_FLAGS_TOKEN;
const admin = process.env.SLIPWAY_ADMIN_TOKEN;
const skip = !baseUrl || !token ? 'SLIPWAY_OFREP_URL / SLIPWAY_FLAGS_TOKEN not set' : false;

async function server() {
  const provider = new OFREPProvider({ baseUrl, headers: [['Authorization', `Bearer ${token}`]] });
  await ServerOF.setProviderAndWait('server', provider);
  return ServerOF.getClient('server');
}

test('server SDK: types, targeting, fractional, errors', { skip }, async () => {
  const c = await server();
  assert.equal(await c.getBooleanValue('new-ui', true, { targetingKey: 'u1', email: 'x@y.io' }), false);
  const m = await c.getBooleanDetails('new-ui', false, { targetingKey: 'u1', email: 'ann@corp.io' });
  assert.equal(m.value, true);
  assert.equal(m.reason, 'TARGETING_MATCH');
  assert.equal(await c.getStringValue('color', 'x'), '#f00');
  assert.equal(await c.getNumberValue('limit', 0), 10);
  assert.deepEqual(await c.getObjectValue('config', {}), { rps: 5, mode: 'safe' });
  // Fractional buckets from flagd-core's own algorithm (see json_logic_test.cc).
  assert.equal(await c.getStringValue('headerColor', 'x', { targetingKey: 'user-0' }), 'green');
  assert.equal(await c.getStringValue('headerColor', 'x', { targetingKey: 'user-3' }), 'blue');
  const nf = await c.getStringDetails('missing', 'dflt');
  assert.equal(nf.value, 'dflt');
  assert.equal(nf.errorCode, 'FLAG_NOT_FOUND');
  const tm = await c.getNumberDetails('color', 1);
  assert.equal(tm.value, 1);
  assert.equal(tm.errorCode, 'TYPE_MISMATCH');
});

test('server SDK: a toggle is picked up by the next evaluation', { skip: skip || !admin }, async () => {
  const c = await server();
  assert.equal(await c.getStringValue('color', 'x'), '#f00');
  const post = (path) => fetch(`${baseUrl}/api/v1/flags/color/${path}`, {
    method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ comment: 'e2e', actor: 'node' }) });
  assert.equal((await post('disable')).status, 200);
  const d = await c.getStringDetails('color', 'x');
  assert.equal(d.reason, 'DISABLED');
  assert.equal((await post('enable')).status, 200);
  assert.equal((await c.getStringDetails('color', 'x')).reason, 'STATIC');
});

test('bulk: ETag and 304 on unchanged flags', { skip }, async () => {
  const h = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  const body = JSON.stringify({ context: { targetingKey: 'u1' } });
  const r1 = await fetch(`${baseUrl}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: h, body });
  assert.equal(r1.status, 200);
  const etag = r1.headers.get('etag');
  assert.ok(etag);
  const r2 = await fetch(`${baseUrl}/ofrep/v1/evaluate/flags`, {
    method: 'POST', headers: { ...h, 'If-None-Match': etag }, body });
  assert.equal(r2.status, 304);
  const r3 = await fetch(`${baseUrl}/ofrep/v1/evaluate/flags/color`, { method: 'POST', body });
  assert.equal(r3.status, 401);
});

test('web SDK under Node: bulk evaluation through the OFREP web provider', { skip }, async () => {
  const provider = new OFREPWebProvider({ baseUrl, headers: [['Authorization', `Bearer ${token}`]],
                                          pollInterval: 0 });
  await WebOF.setContext({ targetingKey: 'user-3', email: 'ann@corp.io' });
  await WebOF.setProviderAndWait(provider);
  const c = WebOF.getClient();
  assert.equal(c.getBooleanValue('new-ui', false), true);
  assert.equal(c.getStringValue('headerColor', 'x'), 'blue');
  assert.equal(c.getNumberValue('limit', 0), 10);
  assert.equal(c.getStringDetails('missing', 'd').errorCode, 'FLAG_NOT_FOUND');
  await WebOF.close();
});
