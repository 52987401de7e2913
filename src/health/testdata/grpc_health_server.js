// A gRPC health server for probe_test.cc, on Node's built-in http2 module (an independent
// HTTP/2 implementation; no npm packages). Prints "PORT <n>" once listening on 127.0.0.1.
//   node grpc_health_server.js h2c              cleartext, prior knowledge
//   node grpc_health_server.js h2 CERT KEY      TLS, ALPN h2 only
//   node grpc_health_server.js tls-h1 CERT KEY  HTTPS with ALPN http/1.1 only (no HTTP/2)
// POST /grpc.health.v1.Health/Check answers by the service asked about:
//   "" / "ok" SERVING, "down" NOT_SERVING, "gone" SERVICE_UNKNOWN, "missing" grpc-status 5
//   trailers-only, "unimpl" grpc-status 12 in trailers, "extra" SERVING among unknown fields,
//   "badvarint", "truncated", "huge", "compressed", "two" (two messages): malformed answers,
//   "hang": never answers, "bighead": a header block far over the probe's limit,
//   "notfound": HTTP 404, "nostatus": 200 without grpc-status, "reset": RST_STREAM.
// A request that is not what the protocol says (method, content-type, te, framing) gets
// grpc-status 13 naming what was wrong. GET /health answers 200 "ok", GET /fail 503.
'use strict';
const http2 = require('http2');
const fs = require('fs');

const mode = process.argv[2];

function frame(msg) {
  const b = Buffer.alloc(5 + msg.length);
  b.writeUInt32BE(msg.length, 1);
  msg.copy(b, 5);
  return b;
}

// The service field of a HealthCheckRequest (field 1, wire type 2), or an error.
function parseRequest(body) {
  if (body.length < 5) return {error: 'short frame'};
  if (body[0] !== 0) return {error: 'compressed request'};
  const n = body.readUInt32BE(1);
  if (body.length !== 5 + n) return {error: `frame says ${n}, has ${body.length - 5}`};
  const msg = body.subarray(5);
  if (msg.length === 0) return {service: ''};
  if (msg[0] !== 0x0a) return {error: 'not field 1 / wire type 2'};
  let len = 0, shift = 0, i = 1;
  for (;; i++) {
    if (i >= msg.length) return {error: 'bad varint'};
    len |= (msg[i] & 0x7f) << shift;
    shift += 7;
    if (!(msg[i] & 0x80)) break;
  }
  i++;
  if (msg.length !== i + len) return {error: 'bad length'};
  return {service: msg.subarray(i).toString()};
}

function answer(stream, statusMsg) {
  stream.respond({':status': 200, 'content-type': 'application/grpc'}, {waitForTrailers: true});
  stream.on('wantTrailers', () => stream.sendTrailers({'grpc-status': '0'}));
  stream.end(frame(statusMsg));
}

function onStream(stream, headers) {
  stream.on('error', () => {});
  const path = headers[':path'];
  if (headers[':method'] === 'GET') {
    const ok = path === '/health';
    stream.respond({':status': ok ? 200 : 503});
    stream.end(ok ? 'ok' : 'failing');
    return;
  }
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  stream.on('end', () => {
    const bad = (why) => {
      stream.respond({':status': 200, 'content-type': 'application/grpc', 'grpc-status': '13',
                      'grpc-message': encodeURIComponent('bad request: ' + why)},
                     {endStream: true});
    };
    if (path !== '/grpc.health.v1.Health/Check') return bad('path ' + path);
    if (headers[':method'] !== 'POST') return bad('method ' + headers[':method']);
    if (headers['content-type'] !== 'application/grpc') return bad('content-type');
    if (headers['te'] !== 'trailers') return bad('te');
    const req = parseRequest(Buffer.concat(chunks));
    if (req.error) return bad(req.error);
    const s = req.service;
    switch (s) {
      case '':
      case 'ok':
        return answer(stream, Buffer.from([0x08, 0x01]));
      case 'down':
        return answer(stream, Buffer.from([0x08, 0x02]));
      case 'gone':
        return answer(stream, Buffer.from([0x08, 0x03]));
      case 'extra':
        // Unknown fields of every wire type, a status 2 overridden by a later status 1.
        return answer(stream, Buffer.from([
          0x10, 0x96, 0x01,                    // field 2 varint 150
          0x08, 0x02,                          // status NOT_SERVING...
          0x1a, 0x03, 0x61, 0x62, 0x63,        // field 3 bytes "abc"
          0x21, 1, 2, 3, 4, 5, 6, 7, 8,        // field 4 fixed64
          0x2d, 1, 2, 3, 4,                    // field 5 fixed32
          0x08, 0x01,                          // ...then SERVING: the last wins
        ]));
      case 'badvarint':
        return answer(stream, Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                           0xff, 0xff, 0x01]));
      case 'truncated': {
        stream.respond({':status': 200, 'content-type': 'application/grpc'},
                       {waitForTrailers: true});
        stream.on('wantTrailers', () => stream.sendTrailers({'grpc-status': '0'}));
        const b = Buffer.from([0, 0, 0, 0, 10, 0x08, 0x01]);
        return stream.end(b);
      }
      case 'huge': {
        stream.respond({':status': 200, 'content-type': 'application/grpc'},
                       {waitForTrailers: true});
        stream.on('wantTrailers', () => stream.sendTrailers({'grpc-status': '0'}));
        const b = Buffer.alloc(5 + (1 << 20), 0x41);
        b[0] = 0;
        b.writeUInt32BE(1 << 20, 1);
        return stream.end(b);
      }
      case 'compressed': {
        const b = frame(Buffer.from([0x08, 0x01]));
        b[0] = 1;
        stream.respond({':status': 200, 'content-type': 'application/grpc'},
                       {waitForTrailers: true});
        stream.on('wantTrailers', () => stream.sendTrailers({'grpc-status': '0'}));
        return stream.end(b);
      }
      case 'two':
        stream.respond({':status': 200, 'content-type': 'application/grpc'},
                       {waitForTrailers: true});
        stream.on('wantTrailers', () => stream.sendTrailers({'grpc-status': '0'}));
        return stream.end(Buffer.concat([frame(Buffer.from([0x08, 0x01])),
                                         frame(Buffer.from([0x08, 0x01]))]));
      case 'missing':
        return stream.respond({':status': 200, 'content-type': 'application/grpc',
                               'grpc-status': '5',
                               'grpc-message': encodeURIComponent('unknown service ' + s)},
                              {endStream: true});
      case 'unimpl':
        stream.respond({':status': 200, 'content-type': 'application/grpc'},
                       {waitForTrailers: true});
        stream.on('wantTrailers', () => stream.sendTrailers(
            {'grpc-status': '12', 'grpc-message': 'unknown service foo%0D%0Ax'}));
        return stream.end();
      case 'hang':
        return;  // never answers
      case 'bighead': {
        const h = {':status': 200, 'content-type': 'application/grpc'};
        for (let i = 0; i < 40; i++) h['x-pad-' + i] = 'p'.repeat(1000);
        try {
          stream.respond(h, {endStream: true});
        } catch (e) {
          stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        }
        return;
      }
      case 'notfound':
        stream.respond({':status': 404}, {endStream: true});
        return;
      case 'nostatus':
        stream.respond({':status': 200, 'content-type': 'application/grpc'});
        return stream.end(frame(Buffer.from([0x08, 0x01])));
      case 'reset':
        return stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      default:
        return stream.respond({':status': 200, 'content-type': 'application/grpc',
                               'grpc-status': '5'}, {endStream: true});
    }
  });
}

let server;
if (mode === 'h2c') {
  server = http2.createServer({maxSendHeaderBlockLength: 1 << 20});
} else if (mode === 'h2') {
  server = http2.createSecureServer({cert: fs.readFileSync(process.argv[3]),
                                     key: fs.readFileSync(process.argv[4]),
                                     ALPNProtocols: ['h2'],
                                     maxSendHeaderBlockLength: 1 << 20});
} else if (mode === 'tls-h1') {
  // An HTTPS server that speaks HTTP/1.1 only (ALPN http/1.1 alone).
  server = require('https').createServer({cert: fs.readFileSync(process.argv[3]),
                                          key: fs.readFileSync(process.argv[4]),
                                          ALPNProtocols: ['http/1.1']},
                                         (req, res) => { res.end('h1'); });
  server.on('tlsClientError', () => {});
} else {
  console.error('usage: grpc_health_server.js h2c | h2 CERT KEY | tls-h1 CERT KEY');
  process.exit(2);
}
if (mode !== 'tls-h1') server.on('stream', onStream);
server.on('sessionError', () => {});
server.on('session', (s) => s.on('error', () => {}));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});
