'use strict';
// Differential scenario 1: the life of two workers that listen and are disconnected.
const http = require('http');
const { cluster, log, snap } = require('../helpers/scenario-events.js');

if (cluster.isPrimary) {
  const keys = () => Object.keys(cluster.workers);
  const counts = { disconnect: 0, exit: 0 };

  cluster.on('fork', (w) => log('fork', { ...snap(w), workers: keys() }));
  cluster.on('online', (w) => log('online', { ...snap(w), workers: keys() }));
  cluster.on('listening', (...args) => {
    const [w, address] = args;
    log('listening', { ...snap(w), workers: keys(), address, addressKeys: Object.keys(address), argc: args.length });
  });
  cluster.on('disconnect', (w) => {
    counts.disconnect++;
    log('disconnect', { ...snap(w), inWorkers: w.id in cluster.workers, workers: keys() });
  });
  cluster.on('exit', (w, code, signal) => {
    counts.exit++;
    log('exit', { ...snap(w), code, signal, inWorkers: w.id in cluster.workers, killed: w.process.killed, workers: keys() });
    if (counts.exit === 2) {
      log('done', { workers: keys() });
    }
  });

  const workers = [cluster.fork(), cluster.fork()];
  log('forked', {
    ids: workers.map((w) => w.id),
    workers: keys(),
    states: workers.map((w) => w.state),
    // ChildProcess's disposer (`using`), as child_process gives it.
    dispose: typeof workers[0].process[Symbol.dispose],
  });
  for (const w of workers) {
    // The worker's own events, in order with the cluster's.
    w.on('online', (...args) => log('w.online', { worker: w.id, argc: args.length, state: w.state }));
    w.on('listening', (...args) => log('w.listening', { worker: w.id, argc: args.length, state: w.state }));
    w.on('disconnect', (...args) => log('w.disconnect', { worker: w.id, argc: args.length, state: w.state }));
    w.on('exit', (...args) => log('w.exit', { worker: w.id, args, state: w.state }));
    w.process.on('exit', (...args) => log('process.exit', { worker: w.id, args, state: w.state }));
  }

  let listening = 0;
  cluster.on('listening', () => {
    if (++listening !== 2) return;
    let sync = true;
    const result = cluster.disconnect((...args) => {
      log('disconnect-cb', { argc: args.length, sync, workers: keys(), exitsSoFar: counts.exit });
    });
    sync = false;
    log('disconnect-called', { result, workers: keys(), after: workers.map(snap) });
  });
  process.on('exit', (code) => log('primary-exit', { code, workers: keys() }));
} else {
  const w = cluster.worker;
  log('worker-start', { state: w.state, exitedAfterDisconnect: w.exitedAfterDisconnect, connected: process.connected });
  const server = http.createServer((req, res) => res.end('ok'));
  server.listen(0, () => log('server-listening', { state: w.state }));
  server.on('close', () => log('server-close', { state: w.state, exitedAfterDisconnect: w.exitedAfterDisconnect }));
  w.on('disconnect', () => log('worker-disconnect', { state: w.state, exitedAfterDisconnect: w.exitedAfterDisconnect, connected: process.connected }));
  process.on('exit', (code) => log('worker-exit', { code, state: w.state, exitedAfterDisconnect: w.exitedAfterDisconnect }));
}
