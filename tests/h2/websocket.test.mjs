// WebSockets over HTTP/2 (RFC 8441) through Slipway: Node's http2 module as the client (an
// extended CONNECT per WebSocket, frames written by hand below) and the `ws` package's server
// behind the proxy over HTTP/1.1 (ws_server.mjs). Run by run.sh, which passes
// SLIPWAY_WS_ORIGIN (https://127.0.0.1:port of the published port) and SLIPWAY_H2_CA.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { randomBytes } from 'node:crypto';

const origin = process.env.SLIPWAY_WS_ORIGIN;
const ca = process.env.SLIPWAY_H2_CA;
assert.ok(origin && ca, 'SLIPWAY_WS_ORIGIN and SLIPWAY_H2_CA are set by run.sh');

let session;
before(async () => {
  session = http2.connect(origin, { ca: readFileSync(ca), servername: 'h2.test' });
  await new Promise((resolve, reject) => {
    session.once('remoteSettings', resolve);
    session.once('error', reject);
  });
});
after(() => session.close());

function withTimeout(p, ms, what) {
  let timer;
  const expiry = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([p, expiry]).finally(() => clearTimeout(timer));
}

// One client frame: FIN set, masked as RFC 6455 §5.3 requires of clients.
function frame(opcode, payload) {
  const body = Buffer.from(payload);
  let head;
  if (body.length < 126) {
    head = Buffer.from([0x80 | opcode, 0x80 | body.length]);
  } else if (body.length < 65536) {
    head = Buffer.alloc(4);
    head.writeUInt8(0x80 | opcode, 0); head.writeUInt8(0x80 | 126, 1); head.writeUInt16BE(body.length, 2);
  } else {
    head = Buffer.alloc(10);
    head.writeUInt8(0x80 | opcode, 0); head.writeUInt8(0x80 | 127, 1);
    head.writeBigUInt64BE(BigInt(body.length), 2);
  }
  const mask = randomBytes(4);
  const masked = Buffer.alloc(body.length);
  for (let i = 0; i < body.length; ++i) masked[i] = body[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, masked]);
}

// Opens a WebSocket on the shared session; resolves with the response headers and a reader.
function openWs(path, headers = {}) {
  const stream = session.request({
    ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':path': path,
    ':authority': 'h2.test', 'sec-websocket-version': '13', ...headers,
  });
  let buf = Buffer.alloc(0);
  const frames = [];
  let waiter = null;
  let ended = false;
  const wake = () => { if (waiter) { const w = waiter; waiter = null; w(); } };
  stream.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {  // server frames are unmasked
      if (buf.length < 2) break;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (buf.length < 4) break; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) break; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      if (buf.length < off + len) break;
      frames.push({ opcode: buf[0] & 0x0f, payload: buf.subarray(off, off + len) });
      buf = buf.subarray(off + len);
    }
    wake();
  });
  stream.on('end', () => { ended = true; wake(); });
  stream.on('error', () => { ended = true; wake(); });
  const response = new Promise((resolve, reject) => {
    stream.once('response', resolve);
    stream.once('error', reject);
  });
  return {
    stream,
    response,
    send: (opcode, payload) => stream.write(frame(opcode, payload)),
    async next(ms = 5000) {
      const deadline = Date.now() + ms;
      while (frames.length === 0) {
        if (ended) throw new Error('the stream ended');
        await withTimeout(new Promise((r) => { waiter = r; }), Math.max(1, deadline - Date.now()), 'a frame');
      }
      return frames.shift();
    },
    ended: () => ended,
  };
}

function get(path) {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path, ':authority': 'h2.test' });
    let body = '';
    let status;
    req.on('response', (h) => { status = h[':status']; });
    req.on('data', (d) => { body += d; });
    req.on('end', () => resolve({ status, body }));
    req.on('error', reject);
  });
}

test('the proxy offers extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL)', () => {
  assert.equal(session.remoteSettings.enableConnectProtocol, true);
});

test('a WebSocket over an HTTP/2 stream: 200, the subprotocol, frames echoed both ways', async () => {
  const ws = openWs('/chat?x=1', { 'sec-websocket-protocol': 'chat, superchat' });
  const h = await withTimeout(ws.response, 5000, 'the response');
  assert.equal(h[':status'], 200);
  assert.equal(h['sec-websocket-protocol'], 'chat');
  assert.equal(h['sec-websocket-accept'], undefined, 'HTTP/1.1 handshake fields stay upstream');
  assert.equal(h.upgrade, undefined);
  for (let i = 0; i < 10; ++i) {
    ws.send(0x1, `hello ${i}`);
    const f = await ws.next();
    assert.equal(f.opcode, 0x1);
    assert.equal(f.payload.toString(), `hello ${i}`);
  }
  ws.send(0x1, 'who');
  const who = JSON.parse((await ws.next()).payload.toString());
  assert.deepEqual(who, { path: '/chat?x=1', proto: 'https' });
  ws.stream.close();
});

test('several WebSockets and plain requests share one connection', async () => {
  const sockets = [openWs('/a'), openWs('/b'), openWs('/c')];
  for (const ws of sockets) assert.equal((await withTimeout(ws.response, 5000, 'a response'))[':status'], 200);
  const plain = Promise.all(Array.from({ length: 20 }, () => get('/health')));
  sockets.forEach((ws, i) => ws.send(0x2, Buffer.from([i, i, i])));
  for (const [i, ws] of sockets.entries()) {
    const f = await ws.next();
    assert.equal(f.opcode, 0x2);
    assert.deepEqual([...f.payload], [i, i, i]);
  }
  for (const r of await plain) assert.deepEqual(r, { status: 200, body: 'ok' });
  sockets.forEach((ws) => ws.stream.close());
});

test('a 3 MiB binary message crosses both ways', async () => {
  const ws = openWs('/big');
  assert.equal((await withTimeout(ws.response, 5000, 'the response'))[':status'], 200);
  const payload = randomBytes(3 << 20);
  ws.send(0x2, payload);
  const f = await ws.next(20000);
  assert.equal(f.payload.length, payload.length);
  assert.ok(f.payload.equals(payload));
  ws.stream.close();
});

async function stats() {
  return JSON.parse((await get('/stats')).body);
}

async function until(pred, what) {
  for (let i = 0; i < 100; ++i) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`never: ${what}`);
}

test('the close handshake ends the stream; a cancelled stream closes the upstream socket', async () => {
  const before = await stats();
  const ws = openWs('/bye');
  assert.equal((await withTimeout(ws.response, 5000, 'the response'))[':status'], 200);
  const code = Buffer.alloc(2);
  code.writeUInt16BE(1000);
  ws.send(0x8, code);
  const f = await ws.next();
  assert.equal(f.opcode, 0x8);
  await until(() => ws.ended(), 'the server\'s END_STREAM after the close handshake');
  // The client ends its side too, as a browser does; the stream is then closed both ways.
  const closed = new Promise((r) => ws.stream.once('close', r));
  ws.stream.end();
  await withTimeout(closed, 5000, 'the stream closing');

  const cancelled = openWs('/cancelled');
  assert.equal((await withTimeout(cancelled.response, 5000, 'the response'))[':status'], 200);
  cancelled.stream.close(http2.constants.NGHTTP2_CANCEL);
  await until(async () => (await stats()).closed >= before.closed + 2,
    'the upstream sees both WebSockets closed');
});

test('an upgrade the upstream refuses is its answer, and unknown protocols are refused', async () => {
  const refused = openWs('/forbidden');
  assert.equal((await withTimeout(refused.response, 5000, 'the response'))[':status'], 401);
  const other = session.request({ ':method': 'CONNECT', ':protocol': 'not-websocket', ':scheme': 'https',
                                  ':path': '/x', ':authority': 'h2.test' });
  const h = await withTimeout(new Promise((resolve, reject) => {
    other.once('response', resolve);
    other.once('error', reject);
  }), 5000, 'the answer to an unknown protocol');
  assert.ok(h[':status'] >= 400 && h[':status'] < 600, `status ${h[':status']}`);
  other.close();
});
