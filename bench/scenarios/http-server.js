'use strict';
// A hello-world HTTP server on port 0 in BENCH_WORKERS workers (default 2).
// Primary: sends "ready" { port, pid, workers } once every worker listens; on the
// command { cmd: "counts" } replies "counts" { counts: [requests per worker] }.
const cluster = require('rust-cluster');
const http = require('node:http');
const { emit, onCommand, intEnv } = require('./common');

if (cluster.isPrimary) {
  const n = intEnv('BENCH_WORKERS', 2);
  const listening = new Set();
  cluster.on('listening', (worker, address) => {
    listening.add(worker.id);
    if (listening.size === n) {
      const workers = Object.values(cluster.workers).map((w) => w.process.pid);
      emit('ready', { port: address.port, pid: process.pid, workers });
    }
  });
  cluster.on('exit', (worker, code, signal) => emit('worker-exit', { id: worker.id, code, signal }));
  for (let i = 0; i < n; i++) cluster.fork();

  onCommand((command) => {
    if (command.cmd !== 'counts') return;
    const workers = Object.values(cluster.workers);
    const counts = new Map();
    for (const worker of workers) {
      worker.once('message', (message) => {
        counts.set(worker.id, message.count);
        if (counts.size === workers.length) {
          emit('counts', { counts: workers.map((w) => counts.get(w.id)) });
        }
      });
      worker.send({ cmd: 'count' });
    }
  });
} else {
  let count = 0;
  const body = 'Hello, world!\n';
  http.createServer((req, res) => {
    count++;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  }).listen(0, '127.0.0.1');
  process.on('message', (message) => {
    if (message?.cmd === 'count') process.send({ count });
  });
}
