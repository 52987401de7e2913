// A gRPC server over cleartext HTTP/2 (prior knowledge), the upstream of grpc.test.mjs: the
// service Slipway proxies with `x-slipway.upstream.protocol: h2`. Listens on $HOST:$PORT.
import * as grpc from '@grpc/grpc-js';
import { EchoService } from './echo_service.mjs';

const peers = new Set();  // the connections the proxy opened to us, by client address
let cancelled = 0;
let calls = 0;

function seen(call) {
  calls += 1;
  peers.add(call.getPeer());
  call.on('cancelled', () => { cancelled += 1; });
}

function metadataObject(md) {
  const out = {};
  for (const [k, v] of Object.entries(md.getMap())) out[k] = String(v);
  return out;
}

const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 << 20,
                                 'grpc.max_send_message_length': 16 << 20 });
server.addService(EchoService, {
  say(call, callback) {
    seen(call);
    const req = call.request;
    const finish = () => {
      if (req.fail) {
        callback({ code: req.fail, details: req.details || 'failed as asked' });
        return;
      }
      const trailer = new grpc.Metadata();
      trailer.set('x-trailer', 'from-upstream');
      const header = new grpc.Metadata();
      header.set('x-header', 'from-upstream');
      call.sendMetadata(header);
      callback(null, { text: req.text, size: (req.pad || '').length, reply: 'x'.repeat(req.replySize || 0),
                       metadata: metadataObject(call.metadata) }, trailer);
    };
    if (req.delayMs) setTimeout(finish, req.delayMs); else finish();
  },
  count(call) {
    seen(call);
    for (let i = 0; i < call.request.n; ++i) call.write({ i });
    call.end();
  },
  sum(call, callback) {
    seen(call);
    let total = 0;
    let n = 0;
    call.on('data', (m) => { total += m.value; n += 1; });
    call.on('end', () => callback(null, { total, n }));
  },
  chat(call) {
    seen(call);
    call.on('data', (m) => call.write({ echo: m.text }));
    call.on('end', () => call.end());
  },
  stats(call, callback) {
    callback(null, { peers: peers.size, cancelled, calls });
  },
});

const host = process.env.HOST || '127.0.0.1';
const port = process.env.PORT || '50051';
server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    console.error(`server.mjs: cannot listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  }
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
