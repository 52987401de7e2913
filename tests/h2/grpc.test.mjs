// gRPC through Slipway: @grpc/grpc-js as the client (HTTP/2 over TLS to the proxy's published
// port, `x-slipway.tls.http2: true`) and as the server behind it (cleartext HTTP/2 with prior
// knowledge, `x-slipway.upstream.protocol: h2`). Run by run.sh, which passes
// SLIPWAY_GRPC_TARGET (host:port of the published port) and SLIPWAY_GRPC_CA (the certificate's
// PEM, self-signed for grpc.test).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { EchoService } from './echo_service.mjs';

const target = process.env.SLIPWAY_GRPC_TARGET;
const ca = process.env.SLIPWAY_GRPC_CA;
assert.ok(target && ca, 'SLIPWAY_GRPC_TARGET and SLIPWAY_GRPC_CA are set by run.sh');

const Echo = grpc.makeGenericClientConstructor(EchoService, 'Echo');
const client = new Echo(target, grpc.credentials.createSsl(readFileSync(ca)), {
  'grpc.ssl_target_name_override': 'grpc.test',
  'grpc.default_authority': 'grpc.test',
  'grpc.max_receive_message_length': 16 << 20,
  'grpc.max_send_message_length': 16 << 20,
});
after(() => client.close());

const deadline = (ms = 10000) => new Date(Date.now() + ms);

function say(request, options = {}, metadata = new grpc.Metadata()) {
  return new Promise((resolve, reject) => {
    let header;
    let trailer;
    const call = client.say(request, metadata, { deadline: deadline(), ...options }, (err, reply) => {
      if (err) reject(err); else resolve({ reply, header, trailer: () => trailer });
    });
    call.on('metadata', (md) => { header = md; });
    call.on('status', (s) => { trailer = s.metadata; });
  });
}

function stats() {
  return new Promise((resolve, reject) =>
    client.stats({}, { deadline: deadline() }, (err, r) => (err ? reject(err) : resolve(r))));
}

test('a unary call reaches the upstream over h2 with the forwarded headers and comes back with its trailers', async () => {
  const md = new grpc.Metadata();
  md.set('x-test', 'one');
  const { reply, header, trailer } = await say({ text: 'hello' }, {}, md);
  assert.equal(reply.text, 'hello');
  assert.equal(reply.metadata['x-test'], 'one');
  assert.equal(reply.metadata['x-forwarded-proto'], 'https');
  assert.ok(reply.metadata['x-request-id'], 'the proxy adds a request id');
  assert.deepEqual(header.get('x-header'), ['from-upstream']);
  // Give the status event its turn: it follows the callback.
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(trailer().get('x-trailer'), ['from-upstream']);
});

test('an error status and its message reach the client (a trailers-only answer)', async () => {
  await assert.rejects(say({ text: 'x', fail: grpc.status.NOT_FOUND, details: 'no such widget' }),
    (err) => err.code === grpc.status.NOT_FOUND && err.details === 'no such widget');
  await assert.rejects(say({ text: 'x', fail: grpc.status.PERMISSION_DENIED }),
    (err) => err.code === grpc.status.PERMISSION_DENIED);
});

test('a server stream of 500 messages arrives whole and in order', async () => {
  const got = [];
  await new Promise((resolve, reject) => {
    const call = client.count({ n: 500 }, { deadline: deadline() });
    call.on('data', (m) => got.push(m.i));
    call.on('error', reject);
    call.on('status', (s) => (s.code === grpc.status.OK ? resolve() : reject(new Error(s.details))));
  });
  assert.equal(got.length, 500);
  got.forEach((v, i) => assert.equal(v, i));
});

test('a client stream of 300 messages is summed by the upstream', async () => {
  const r = await new Promise((resolve, reject) => {
    const call = client.sum({ deadline: deadline() }, (err, reply) => (err ? reject(err) : resolve(reply)));
    for (let i = 1; i <= 300; ++i) call.write({ value: i });
    call.end();
  });
  assert.deepEqual(r, { total: 45150, n: 300 });
});

test('a bidirectional stream answers each message before the client sends the next', async () => {
  const call = client.chat({ deadline: deadline() });
  const replies = [];
  let wake = null;
  call.on('data', (m) => { replies.push(m.echo); if (wake) wake(); });
  const ended = new Promise((resolve, reject) => {
    call.on('status', (s) => (s.code === grpc.status.OK ? resolve() : reject(new Error(s.details))));
    call.on('error', reject);
  });
  for (let i = 0; i < 20; ++i) {
    const arrived = new Promise((r) => { wake = r; });
    call.write({ text: `ping-${i}` });
    let timer;
    await Promise.race([arrived, new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`no echo of ping-${i} while the request stream is open`)), 5000);
    })]).finally(() => clearTimeout(timer));
    assert.equal(replies[i], `ping-${i}`);
  }
  call.end();
  await ended;
  assert.equal(replies.length, 20);
});

test('4 MiB each way', async () => {
  const pad = 'p'.repeat(4 << 20);
  const { reply } = await say({ text: 'big', pad, replySize: 4 << 20 });
  assert.equal(reply.size, 4 << 20);
  assert.equal(reply.reply.length, 4 << 20);
});

test('200 concurrent calls share a few upstream connections', async () => {
  const before = await stats();
  const texts = Array.from({ length: 200 }, (_, i) => `c${i}`);
  const replies = await Promise.all(texts.map((text) => say({ text })));
  replies.forEach((r, i) => assert.equal(r.reply.text, texts[i]));
  const s = await stats();
  assert.ok(s.calls - before.calls >= 200);
  // HTTP/1.1 would have needed one upstream connection per call in flight.
  assert.ok(s.peers <= 8, `upstream connections: ${s.peers}`);
});

test('a call past its deadline is cancelled at the upstream too', async () => {
  const before = await stats();
  await assert.rejects(say({ text: 'slow', delayMs: 3000 }, { deadline: deadline(300) }),
    (err) => err.code === grpc.status.DEADLINE_EXCEEDED);
  let s;
  for (let i = 0; i < 50; ++i) {  // the reset crosses the proxy asynchronously
    s = await stats();
    if (s.cancelled > before.cancelled) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(s.cancelled > before.cancelled, 'the upstream saw the stream cancelled');
});
