'use strict';
// Differential scenario 5: disconnecting, phase by phase (each phase starts when the
// previous one has ended, so one sequence of the primary's log is well defined):
//   A. cluster.disconnect(cb) with no workers
//   B. cluster.disconnect(cb) with 3 workers listening on a shared HTTP port
//   C. worker.disconnect() while the worker serves an open keep-alive connection: the
//      worker closes its server and waits for that connection before disconnecting
//   D. the worker disconnects itself: cluster.worker.disconnect()
//   E. worker.destroy() (worker kept alive by a timer: it ends by SIGTERM)
//   F. cluster.disconnect(cb) with no workers again, and without a callback
const http = require('http');
const { cluster, log, snap } = require('../helpers/scenario-events.js');

if (cluster.isPrimary) {
  const keys = () => Object.keys(cluster.workers);
  const phases = [phaseA, phaseB, phaseC, phaseD, phaseE, phaseF];
  // Phases start on the next tick: after the cluster-level listeners of the event that
  // ended the previous phase (a worker's own events come before the cluster's).
  const nextPhase = () => process.nextTick(() => {
    const phase = phases.shift();
    log('phase', { name: phase.name });
    phase();
  });
  let exitsInPhase = 0;

  cluster.on('fork', (w) => log('fork', { ...snap(w) }));
  cluster.on('listening', (w, address) => log('listening', { ...snap(w), addressType: address.addressType }));
  cluster.on('disconnect', (w) => log('disconnect', { ...snap(w), workers: keys() }));
  cluster.on('exit', (w, code, signal) => {
    exitsInPhase++;
    log('exit', { ...snap(w), code, signal, killed: w.process.killed, workers: keys() });
  });

  // Calls cluster.disconnect(cb) and logs when cb runs.
  const disconnectAll = (label, then) => {
    let sync = true;
    const before = exitsInPhase;
    const result = cluster.disconnect((...args) => {
      log('disconnect-cb', { label, argc: args.length, sync, exitsSincePhase: exitsInPhase - before, workers: keys() });
      if (then) then();
    });
    sync = false;
    log('disconnect-called', { label, result, workers: keys() });
  };

  function phaseA() {
    disconnectAll('A: no workers', nextPhase);
  }

  function phaseB() {
    exitsInPhase = 0;
    const workers = [1, 2, 3].map(() => cluster.fork({ SCENARIO_MODE: 'listen' }));
    let listening = 0;
    let exited = 0;
    for (const w of workers) {
      w.once('listening', () => {
        if (++listening === 3) process.nextTick(disconnectAll, 'B: three listening');
      });
      w.once('exit', () => {
        if (++exited === 3) nextPhase();
      });
    }
  }

  function phaseC() {
    const w = cluster.fork({ SCENARIO_MODE: 'keepalive' });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let port;
    w.once('listening', (address) => {
      port = address.port;
      http.get({ host: '127.0.0.1', port, agent, path: '/first' }, (res) => {
        res.resume();
        res.on('end', () => {
          log('first-response', { worker: w.id, status: res.statusCode, connection: res.headers.connection });
          // The connection is now idle in the agent; the second request reuses it and
          // the worker holds its answer until told to finish.
          http.get({ host: '127.0.0.1', port, agent, path: '/held' }, (res2) => {
            let body = '';
            res2.setEncoding('utf8');
            res2.on('data', (chunk) => { body += chunk; });
            res2.on('end', () => {
              log('held-response', { worker: w.id, status: res2.statusCode, body, connection: res2.headers.connection, connected: w.isConnected() });
              // Closing the connection lets the worker's server close, and so disconnect.
              agent.destroy();
              log('agent-destroyed', { worker: w.id, connected: w.isConnected(), state: w.state });
            });
          });
        });
      });
    });
    w.on('message', (message) => {
      if (message === 'holding') {
        const result = w.disconnect();
        log('worker-disconnect-called', { worker: w.id, returnsWorker: result === w, after: snap(w), workers: keys() });
        // Still connected: the channel stays open until the worker has closed its servers.
        const sent = w.send('finish', (err) => log('finish-sent', { worker: w.id, lane: 'cb', err }));
        log('finish-send', { worker: w.id, sent });
      }
    });
    w.once('exit', () => nextPhase());
  }

  function phaseD() {
    const w = cluster.fork({ SCENARIO_MODE: 'self' });
    w.once('online', () => w.send('go'));
    w.once('exit', () => nextPhase());
  }

  function phaseE() {
    const w = cluster.fork({ SCENARIO_MODE: 'stay' });
    w.on('message', (message) => {
      if (message !== 'ready') return;
      const result = w.destroy();
      log('destroy-called', { worker: w.id, result, after: { ...snap(w), killed: w.process.killed } });
    });
    w.once('exit', () => nextPhase());
  }

  function phaseF() {
    disconnectAll('F: no workers again', () => {
      const result = cluster.disconnect();
      log('disconnect-no-cb', { result, workers: keys() });
      process.nextTick(() => log('done', { workers: keys() }));
    });
  }

  nextPhase();
} else {
  const mode = process.env.SCENARIO_MODE;
  const w = cluster.worker;
  w.on('disconnect', () => log('worker-disconnect', { state: w.state, exitedAfterDisconnect: w.exitedAfterDisconnect, connected: process.connected }));
  process.on('exit', (code) => log('worker-exit', { code, exitedAfterDisconnect: w.exitedAfterDisconnect }));
  if (mode === 'listen') {
    const server = http.createServer((req, res) => res.end('ok'));
    server.listen(0);
    server.on('close', () => log('server-close'));
  } else if (mode === 'keepalive') {
    let held = null;
    const server = http.createServer((req, res) => {
      log('request', { path: req.url });
      if (req.url === '/held') {
        held = res;
        process.send('holding');
      } else {
        res.end('first');
      }
    });
    server.keepAliveTimeout = 60_000;
    server.listen(0);
    server.on('close', () => log('server-close', { connected: process.connected }));
    process.on('message', (message) => {
      if (message !== 'finish') return;
      log('finish', { listening: server.listening, connected: process.connected, exitedAfterDisconnect: w.exitedAfterDisconnect });
      held.end('held');
    });
  } else if (mode === 'self') {
    process.on('message', (message) => {
      if (message !== 'go') return;
      const result = w.disconnect();
      log('self-disconnect-called', { returnsWorker: result === w, state: w.state, exitedAfterDisconnect: w.exitedAfterDisconnect, connected: process.connected });
    });
  } else if (mode === 'stay') {
    setInterval(() => {}, 1 << 30);
    process.send('ready');
  }
}
