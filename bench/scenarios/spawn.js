'use strict';
// Fork BENCH_WORKERS workers that each listen on port 0; report the time from the first
// fork() until every worker is online and until every worker is listening, then the time
// from cluster.disconnect() until every worker has exited.
const cluster = require('rust-cluster');
const http = require('node:http');
const { emit, intEnv, now } = require('./common');

if (cluster.isPrimary) {
  const n = intEnv('BENCH_WORKERS', 1);
  const result = {};
  let online = 0;
  let listening = 0;
  let exited = 0;
  let disconnectAt = 0;
  cluster.on('online', () => {
    if (++online === n) result.onlineMs = now() - t0;
  });
  cluster.on('listening', () => {
    if (++listening !== n) return;
    result.listeningMs = now() - t0;
    disconnectAt = now();
    cluster.disconnect();
  });
  cluster.on('exit', () => {
    if (++exited !== n) return;
    result.exitMs = now() - disconnectAt;
    emit('result', result);
    process.exit(0);
  });
  const t0 = now();
  for (let i = 0; i < n; i++) cluster.fork();
} else {
  http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1');
}
