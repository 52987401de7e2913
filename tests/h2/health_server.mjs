// A gRPC server whose health the daemon probes with `x-slipway.healthcheck.grpc`: the standard
// grpc.health.v1 service of the grpc-health-check package on @grpc/grpc-js, in cleartext
// HTTP/2 on $HOST:$PORT. The server as a whole ("") is SERVING while the file named by
// $HEALTH_FLAG is absent and NOT_SERVING while it exists (grpc_health.test.mjs creates it).
import { existsSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';

const flag = process.env.HEALTH_FLAG;
const serving = () => (flag && existsSync(flag) ? 'NOT_SERVING' : 'SERVING');
const health = new HealthImplementation({ '': serving() });
const server = new grpc.Server();
health.addToServer(server);
const timer = setInterval(() => health.setStatus('', serving()), 100);

const host = process.env.HOST || '127.0.0.1';
const port = process.env.PORT || '50052';
server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    console.error(`health_server.mjs: cannot listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  }
});
process.on('SIGTERM', () => {
  clearInterval(timer);
  server.tryShutdown(() => process.exit(0));
});
