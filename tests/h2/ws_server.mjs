// A WebSocket echo server over HTTP/1.1 (the `ws` package, which checks the opening handshake
// as RFC 6455 asks), the upstream of websocket.test.mjs: clients reach it over HTTP/2 (RFC 8441)
// and Slipway turns each extended CONNECT into an HTTP/1.1 upgrade. Listens on $HOST:$PORT;
// answers `GET /health` with 200 for the health check; picks the subprotocol "chat" when offered.
import http from 'node:http';
import { WebSocketServer } from 'ws';

let opened = 0;
let closed = 0;
const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.end('ok');
  } else if (req.url === '/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ opened, closed }));
  } else {
    res.statusCode = 404;
    res.end();
  }
});
const wss = new WebSocketServer({
  server,
  maxPayload: 16 << 20,
  handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
  verifyClient: (info) => info.req.url !== '/forbidden',
});
wss.on('connection', (socket, req) => {
  opened += 1;
  socket.on('close', () => { closed += 1; });
  socket.on('message', (data, isBinary) => {
    if (!isBinary && data.toString() === 'who') {
      socket.send(JSON.stringify({ path: req.url, proto: req.headers['x-forwarded-proto'] || '' }));
      return;
    }
    socket.send(data, { binary: isBinary });
  });
});
server.listen(Number(process.env.PORT || 8081), process.env.HOST || '127.0.0.1');
process.on('SIGTERM', () => { wss.close(); server.close(() => process.exit(0)); });
