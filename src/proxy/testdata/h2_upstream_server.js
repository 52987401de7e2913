// An HTTP/2 upstream for h2_upstream_test.cc (Node's http2 module: an independent HTTP/2
// implementation). Prints "PORT <n>" once listening on 127.0.0.1.
//   node h2_upstream_server.js h2c [N]             cleartext, prior knowledge; at most N
//                                                  concurrent streams when given
//   node h2_upstream_server.js h2 CERT KEY         TLS, ALPN h2 only
//   node h2_upstream_server.js tls-h1 CERT KEY     TLS without ALPN, answers HTTP/1.1
//   node h2_upstream_server.js h2c-ws              h2c with SETTINGS_ENABLE_CONNECT_PROTOCOL 1
//                                                  (RFC 8441): WebSockets over HTTP/2
//   node h2_upstream_server.js h2-ws CERT KEY      the same over TLS, ALPN h2 only
// Paths: /echo (the request body back, and what the request looked like in x-seen-*
// fields), /grpc (a chunked answer ending in trailers grpc-status/grpc-message), /slow/<ms>,
// /big/<n> (n bytes, paced by the window), /cut/<n> (n bytes, then a reset), /rst (RST_STREAM INTERNAL_ERROR before any
// answer), /die (the connection dropped), /big-head (a header block far over 64 KiB),
// /ga/<ms> (after every 10th stream of a session: GOAWAY whose last stream id is that stream,
// then the session closes; a request with a body gets it back, else the path), /stats
// (sessions, GOAWAYs, sessions closed, the bytes /big had written 1 s in, the most streams
// open at once on one session, streams refused, /rst streams; extended CONNECTs seen, and
// how their streams closed: wsclean (both ends, no reset), wscancel (RST_STREAM CANCEL from the
// client), wsother (any other reset)).
// An extended CONNECT (:protocol websocket; modes h2c-ws and h2-ws, the others' SETTINGS do not allow it)
// gets 200 with what it looked like in
// x-seen-* fields and the first sec-websocket-protocol asked for, then every byte of the
// stream back (with back-pressure) and its end when the client ends; at /ws-forbidden a 403
// with the body "no way"; at /ws-rst, once the first bytes came, 1 MiB of 'r' queued and at
// once RST_STREAM INTERNAL_ERROR (what the window let out of it goes first, never END_STREAM).
// Request fields, on any path: "x-refuse: <key>" refuses (RST_STREAM REFUSED_STREAM, before
// reading the body) the first "x-refuse-count" (default 1) streams carrying that key;
// "x-refuse-gone: 1" closes the listener (new connections are refused) and sends a GOAWAY
// whose last stream id is below this stream's, so the client treats it as refused.
'use strict';
const http2 = require('http2');
const fs = require('fs');
const tls = require('tls');

const mode = process.argv[2];
let sessions = 0;
let goaways = 0;
let closed = 0;
let bigSent = -1;
let maxActive = 0;
let refused = 0;
let rsts = 0;
let wsConnects = 0;
let wsClean = 0;
let wsCancel = 0;
let wsOther = 0;
const refusedByKey = new Map();

function onStream(stream, headers) {
  const path = headers[':path'];
  const session = stream.session;
  session.streamsSeen = (session.streamsSeen || 0) + 1;
  const nth = session.streamsSeen;  // this stream's rank on its session (a body ends later)
  session.active = (session.active || 0) + 1;
  maxActive = Math.max(maxActive, session.active);
  stream.on('close', () => { session.active--; });
  stream.on('error', () => {});
  if (path === '/die') {
    session.destroy();
    return;
  }
  const refuseKey = headers['x-refuse'];
  if (refuseKey !== undefined) {
    const seen = refusedByKey.get(refuseKey) || 0;
    if (seen < (parseInt(headers['x-refuse-count'], 10) || 1)) {
      refusedByKey.set(refuseKey, seen + 1);
      refused++;
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
  }
  if (headers[':method'] === 'CONNECT' && headers[':protocol'] !== undefined) {
    wsConnects++;
    stream.on('close', () => {
      if (stream.rstCode === http2.constants.NGHTTP2_CANCEL) wsCancel++;
      else if (stream.rstCode === undefined || stream.rstCode === http2.constants.NGHTTP2_NO_ERROR) wsClean++;
      else wsOther++;
    });
    if (path === '/ws-forbidden') {
      stream.respond({':status': 403, 'content-type': 'text/plain', 'x-why': 'origin'});
      stream.end('no way');
      return;
    }
    const proto = headers['sec-websocket-protocol'];
    const answer = {
      ':status': 200,
      'x-seen-method': headers[':method'],
      'x-seen-protocol': headers[':protocol'],
      'x-seen-path': path,
      'x-seen-authority': headers[':authority'] || '-',
      'x-seen-key': headers['sec-websocket-key'] || '-',
      'x-seen-version': headers['sec-websocket-version'] || '-',
      'x-seen-origin': headers['origin'] || '-',
      'x-seen-upgrade': headers['upgrade'] || '-',
    };
    if (proto) answer['sec-websocket-protocol'] = proto.split(',')[0].trim();
    stream.respond(answer);
    if (path === '/ws-rst') {
      // 1 MiB queued first, more than the stream's window lets out: Node sends what it can of
      // what is queued before an RST_STREAM, and an END_STREAM going first would be an end.
      stream.once('data', () => {
        stream.write(Buffer.alloc(1 << 20, 'r'));
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      });
      return;
    }
    stream.pipe(stream);
    return;
  }
  if (headers['x-refuse-gone'] === '1') {
    refused++;
    server.close();
    session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id - 2);
    return;
  }
  if (path === '/rst') {
    rsts++;
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  if (path === '/stats') {
    stream.respond({':status': 200, 'content-type': 'text/plain'});
    stream.end(`sessions=${sessions} goaways=${goaways} closed=${closed} bigsent=${bigSent} maxactive=${maxActive} refused=${refused} rsts=${rsts} wsconnects=${wsConnects} wsclean=${wsClean} wscancel=${wsCancel} wsother=${wsOther}`);
    return;
  }
  if (path.startsWith('/big/')) {
    // <n> bytes written as fast as the stream's window lets it; 1 s in, what was written is
    // noted for /stats. With a Content-Length: under load Node was seen to end such a stream
    // with RST_STREAM(NO_ERROR) in place of its last END_STREAM.
    const total = parseInt(path.split('/')[2], 10);
    let sent = 0;
    stream.respond({':status': 200, 'content-length': String(total)});
    const piece = Buffer.alloc(16384, 'b');
    const pump = () => {
      while (sent < total) {
        const n = Math.min(piece.length, total - sent);
        sent += n;
        if (!stream.write(n === piece.length ? piece : piece.subarray(0, n))) {
          stream.once('drain', pump);
          return;
        }
      }
      stream.end();
    };
    setTimeout(() => {
      bigSent = sent - stream.writableLength;
    }, 1000);
    pump();
    return;
  }
  if (path.startsWith('/cut/')) {
    // <n> bytes queued at once (chunked), then RST_STREAM(INTERNAL_ERROR) 200 ms later,
    // whatever the window let through.
    stream.respond({':status': 200});
    stream.write(Buffer.alloc(parseInt(path.split('/')[2], 10), 'c'));
    setTimeout(() => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR), 200);
    return;
  }
  if (path === '/big-head') {
    const h = {':status': 200};
    for (let i = 0; i < 200; i++) h['x-big-' + i] = 'v'.repeat(500);
    stream.respond(h);
    stream.end('never');
    return;
  }
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  let trailers = {};
  stream.on('trailers', (t) => { trailers = t; });
  stream.on('error', () => {});
  stream.on('end', () => {
    const body = Buffer.concat(chunks);
    if (path === '/echo') {
      stream.respond({
        ':status': 200,
        'content-length': body.length,
        'x-seen-method': headers[':method'],
        'x-seen-scheme': headers[':scheme'],
        'x-seen-authority': headers[':authority'],
        'x-seen-xff': headers['x-forwarded-for'] || '-',
        'x-seen-te': headers['te'] || '-',
        'x-seen-trailer': trailers['x-req-trailer'] || '-',
      });
      stream.end(body);
    } else if (path === '/grpc') {
      stream.respond({':status': 200, 'content-type': 'application/grpc'}, {waitForTrailers: true});
      stream.on('wantTrailers', () => {
        stream.sendTrailers({'grpc-status': '0', 'grpc-message': 'fine', 'x-seen-te': headers['te'] || '-'});
      });
      stream.end('hello ' + body.toString());
    } else if (path.startsWith('/slow/') || path.startsWith('/ga/')) {
      const ms = parseInt(path.split('/')[2], 10) || 0;
      const goaway = path.startsWith('/ga/') && nth % 10 === 0 && !session.sentGoaway;
      if (goaway) {
        session.sentGoaway = true;
        goaways++;
        session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id);
        setTimeout(() => session.close(), 1000);
      }
      setTimeout(() => {
        if (stream.destroyed) return;
        const answer = body.length > 0 ? body : Buffer.from(path);
        stream.respond({':status': 200, 'content-length': String(answer.length)});
        stream.end(answer);
      }, ms);
    } else {
      stream.respond({':status': 404});
      stream.end();
    }
  });
}

let server;
if (mode === 'h2c') {
  const options = {maxSendHeaderBlockLength: 1 << 20};
  if (process.argv[3]) options.settings = {maxConcurrentStreams: parseInt(process.argv[3], 10)};
  server = http2.createServer(options);
} else if (mode === 'h2c-ws') {
  server = http2.createServer({settings: {enableConnectProtocol: true}});
} else if (mode === 'h2' || mode === 'h2-ws') {
  server = http2.createSecureServer({
    key: fs.readFileSync(process.argv[4]),
    cert: fs.readFileSync(process.argv[3]),
    allowHTTP1: false,
    maxSendHeaderBlockLength: 1 << 20,
    settings: {enableConnectProtocol: mode === 'h2-ws'},
  });
} else if (mode === 'tls-h1') {
  server = tls.createServer({key: fs.readFileSync(process.argv[4]), cert: fs.readFileSync(process.argv[3])},
    (sock) => {
      sock.on('data', () => sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nh1'));
      sock.on('error', () => {});
    });
} else {
  console.error('unknown mode ' + mode);
  process.exit(2);
}
if (mode !== 'tls-h1') {
  server.on('session', (s) => {
    sessions++;
    s.on('error', () => {});
    s.on('close', () => { closed++; });
  });
  server.on('stream', onStream);
}
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});
