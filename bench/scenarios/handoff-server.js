'use strict';
// The least a cluster app can be, to measure the primary's handoff alone: BENCH_WORKERS (2)
// workers, each `net.createServer(s => { s.resume(); s.end('x') })` on 127.0.0.1, under
// the policy BENCH_POLICY names (rr, or sticky: rust-cluster only). `s.resume()`: the
// client sends a few bytes, and a socket whose bytes nobody reads never ends, so its fd
// would stay open in the worker.
// Primary: sends "ready" { port, pid } once every worker listens, and "worker-exit".
const cluster = require('rust-cluster');
const net = require('node:net');
const { emit, intEnv } = require('./common');

if (cluster.isPrimary) {
  const policy = cluster[`SCHED_${(process.env.BENCH_POLICY || 'rr').toUpperCase()}`];
  if (policy === undefined) throw new Error(`no scheduling policy ${process.env.BENCH_POLICY}`);
  cluster.schedulingPolicy = policy;
  const n = intEnv('BENCH_WORKERS', 2);
  let listening = 0;
  cluster.on('listening', (worker, address) => {
    if (++listening === n) emit('ready', { port: address.port, pid: process.pid });
  });
  cluster.on('exit', (worker, code, signal) => emit('worker-exit', { id: worker.id, code, signal }));
  for (let i = 0; i < n; i++) cluster.fork();
} else {
  net.createServer((s) => { s.resume(); s.end('x'); }).listen(0, '127.0.0.1');
}
