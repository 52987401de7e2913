// The gRPC health probe (`x-slipway.healthcheck.grpc: ""`) against a real gRPC server
// (health_server.mjs: @grpc/grpc-js with the grpc-health-check package): the instance is
// healthy under `slipway up`, turns unhealthy in `slipway ps` when the server says
// NOT_SERVING, and healthy again when it serves. Run by run.sh, which passes SLIPWAY_BIN,
// SLIPWAY_WORK (the project folder) and SLIPWAY_HEALTH_FLAG (the file that makes the server
// NOT_SERVING).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

const bin = process.env.SLIPWAY_BIN;
const work = process.env.SLIPWAY_WORK;
const flag = process.env.SLIPWAY_HEALTH_FLAG;
assert.ok(bin && work && flag, 'SLIPWAY_BIN, SLIPWAY_WORK and SLIPWAY_HEALTH_FLAG are set by run.sh');

function healthOf(service) {
  const out = execFileSync(bin, ['ps', '--format', 'json'], { cwd: work, timeout: 10000 });
  return JSON.parse(out.toString()).filter((r) => r.service === service).map((r) => r.health);
}

// Polls `slipway ps` (every 200 ms, for at most `ms`) until every instance of the service has
// the health wanted; returns what was seen last.
async function waitHealth(service, want, ms = 20000) {
  const until = Date.now() + ms;
  let seen = [];
  while (Date.now() < until) {
    seen = healthOf(service);
    if (seen.length > 0 && seen.every((h) => h === want)) return seen;
    await new Promise((r) => setTimeout(r, 200));
  }
  return seen;
}

test('a gRPC service probed with the gRPC health protocol is healthy, then unhealthy on NOT_SERVING, then healthy again', async () => {
  assert.deepEqual(await waitHealth('health', 'healthy'), ['healthy']);
  writeFileSync(flag, 'x');
  try {
    assert.deepEqual(await waitHealth('health', 'unhealthy'), ['unhealthy']);
  } finally {
    rmSync(flag, { force: true });
  }
  assert.deepEqual(await waitHealth('health', 'healthy'), ['healthy']);
});
