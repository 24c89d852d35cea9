'use strict';
// Differential scenario 4: how workers end. One worker per way of ending; each reports
// 'ready' once its handlers are set up, then the primary tells it to end itself or ends
// it. Recorded per worker: exit (code, signal), exitedAfterDisconnect, process.killed,
// exitCode/signalCode, and the primary's bookkeeping at 'disconnect' and 'exit'.
const { cluster, log, snap, attempt } = require('../helpers/scenario-events.js');

const MODES = [
  'exit0', // process.exit(0)
  'exit7', // process.exit(7)
  'throw', // uncaught exception: code 1
  'exitCode3', // process.exitCode = 3, then process.disconnect(): the worker exits 0
  'kill', // primary: worker.kill()
  'killSIGKILL', // primary: worker.kill('SIGKILL')
  'processSIGINT', // primary: worker.process.kill('SIGINT')
  'destroySIGHUP', // primary: worker.destroy('SIGHUP')
  'selfSIGHUP', // the worker: process.kill(process.pid, 'SIGHUP')
  'selfSIGTERM', // the worker: process.kill(process.pid, 'SIGTERM')
];

if (cluster.isPrimary) {
  const info = (w) => ({
    ...snap(w),
    killed: w.process.killed,
    exitCode: w.process.exitCode,
    signalCode: w.process.signalCode,
  });
  const modes = new Map();
  let exits = 0;

  cluster.on('message', (w, message) => {
    if (message !== 'ready') return;
    const mode = modes.get(w.id);
    log('ready', { worker: w.id, mode });
    switch (mode) {
      case 'kill':
        log('kill', { worker: w.id, result: attempt(() => w.kill()), after: info(w) });
        break;
      case 'killSIGKILL':
        log('kill', { worker: w.id, result: attempt(() => w.kill('SIGKILL')), after: info(w) });
        break;
      case 'processSIGINT':
        log('kill', { worker: w.id, result: attempt(() => w.process.kill('SIGINT')), after: info(w) });
        break;
      case 'destroySIGHUP':
        log('kill', { worker: w.id, result: attempt(() => w.destroy('SIGHUP')), after: info(w) });
        break;
      default:
        w.send('go');
    }
  });
  // Whether 'disconnect' or 'exit' comes first for a worker that dies is a race between
  // the channel's EOF and SIGCHLD: both events are logged, with only what does not depend
  // on that order, on an unordered lane ("~end"). The order itself is not compared: Node's
  // primary usually reports 'disconnect' first, but on a loaded machine it has reported
  // 'exit' first for three of ten workers in one run.
  cluster.on('disconnect', (w) => {
    log('disconnect', { worker: w.id, lane: '~end', mode: modes.get(w.id), exitedAfterDisconnect: w.exitedAfterDisconnect, state: w.state });
  });
  cluster.on('exit', (w, code, signal) => {
    log('exit', {
      worker: w.id,
      lane: '~end',
      mode: modes.get(w.id),
      code,
      signal,
      state: w.state,
      exitedAfterDisconnect: w.exitedAfterDisconnect,
      dead: w.isDead(),
      killed: w.process.killed,
      exitCode: w.process.exitCode,
      signalCode: w.process.signalCode,
    });
    if (++exits === MODES.length) {
      log('done', { workers: Object.keys(cluster.workers).length });
    }
  });
  for (const mode of MODES) {
    const w = cluster.fork({ SCENARIO_MODE: mode });
    modes.set(w.id, mode);
  }
} else {
  const mode = process.env.SCENARIO_MODE;
  // Keep the worker alive until it is told to go (or killed).
  const keepAlive = setInterval(() => {}, 1 << 30);
  process.on('message', (message) => {
    if (message !== 'go') return;
    switch (mode) {
      case 'exit0': process.exit(0); break;
      case 'exit7': process.exit(7); break;
      case 'throw': throw new Error(`uncaught in worker ${cluster.worker.id}`);
      case 'exitCode3':
        process.exitCode = 3;
        clearInterval(keepAlive);
        process.disconnect();
        break;
      case 'selfSIGHUP': process.kill(process.pid, 'SIGHUP'); break;
      case 'selfSIGTERM': process.kill(process.pid, 'SIGTERM'); break;
      default:
    }
  });
  process.send('ready');
}
