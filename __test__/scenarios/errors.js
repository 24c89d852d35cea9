'use strict';
// Differential scenario 6: errors, phase by phase.
//   A. worker.send() after the worker exited: callback gets ERR_IPC_CHANNEL_CLOSED;
//      without a callback the worker emits 'error'
//   B. worker.process.disconnect() twice: the second emits ERR_IPC_DISCONNECTED
//   C. bad signals (worker.kill('SIGNOPE'), worker.process.kill('SIGNOPE'), ...), signal 0,
//      bad send() arguments and options, on a live worker
//   D. cluster.fork() with bad settings: error class, code and message, and the ids used
//   E. a worker script that does not exist: exit code 1, no hang
//   F. a cwd that does not exist: the spawn fails
const path = require('path');
const { cluster, log, snap, attempt, errInfo } = require('../helpers/scenario-events.js');

if (cluster.isPrimary) {
  const keys = () => Object.keys(cluster.workers);
  const phases = [phaseA, phaseB, phaseC, phaseD, phaseE, phaseF];
  const nextPhase = () => process.nextTick(() => {
    const phase = phases.shift();
    if (!phase) {
      log('done', { workers: keys() });
      return;
    }
    log('phase', { name: phase.name });
    phase();
  });
  const settingsKeys = [];
  cluster.on('setup', (settings) => settingsKeys.push(Object.keys(settings).sort().join(',')));

  /** Logs the worker's events (with its bookkeeping); calls then() after 'exit'. */
  function watch(w, then) {
    w.on('online', () => log('online', { ...snap(w) }));
    w.on('disconnect', () => log('disconnect', { ...snap(w) }));
    w.on('error', (err) => log('error', { worker: w.id, err: errInfo(err), ...snap(w) }));
    w.on('exit', (code, signal) => {
      log('exit', { ...snap(w), code, signal });
      if (then) process.nextTick(then, w);
    });
  }

  function phaseA() {
    const w = cluster.fork({ SCENARIO_MODE: 'exit' });
    watch(w, () => {
      let sync = true;
      const withCb = attempt(() => w.send('after exit', (...args) => {
        log('send-cb', { worker: w.id, argc: args.length, err: errInfo(args[0]), sync });
        const withoutCb = attempt(() => w.send('after exit, no callback'));
        log('send-no-cb', { worker: w.id, result: withoutCb });
        // The 'error' event comes on a later tick.
        setImmediate(() => {
          const proc = attempt(() => w.process.send('to process', (err) => {
            log('process-send-cb', { worker: w.id, err: errInfo(err) });
            nextPhase();
          }));
          log('process-send', { worker: w.id, result: proc });
        });
      }));
      sync = false;
      log('send-with-cb', { worker: w.id, result: withCb });
    });
    w.on('online', () => w.send('go'));
  }

  function phaseB() {
    const w = cluster.fork({ SCENARIO_MODE: 'stay' });
    watch(w, nextPhase);
    w.process.on('error', (err) => log('process-error', { worker: w.id, err: errInfo(err), sync: inCall }));
    let inCall = false;
    w.once('online', () => {
      inCall = true;
      const first = attempt(() => w.process.disconnect());
      log('process-disconnect-1', { worker: w.id, result: first, connected: w.process.connected, ...snap(w) });
      const second = attempt(() => w.process.disconnect());
      log('process-disconnect-2', { worker: w.id, result: second, connected: w.process.connected });
      const third = attempt(() => w.disconnect());
      log('worker-disconnect-after', { worker: w.id, result: third === undefined ? third : { ...third, returned: third.returned === w ? '<worker>' : third.returned }, ...snap(w) });
      inCall = false;
    });
  }

  function phaseC() {
    const w = cluster.fork({ SCENARIO_MODE: 'stay' });
    watch(w, nextPhase);
    w.once('online', () => {
      const tries = {
        'worker.kill(SIGNOPE)': () => w.kill('SIGNOPE'),
        'process.kill(sigwinch), lowercase': () => w.process.kill('sigwinch'),
        'worker.destroy(SIGNOPE)': () => w.destroy('SIGNOPE'),
        'process.kill(SIGNOPE)': () => w.process.kill('SIGNOPE'),
        'process.kill(12345)': () => w.process.kill(12345),
        'process.kill(-1)': () => w.process.kill(-1),
        'process.kill({})': () => w.process.kill({}),
        'process.kill(null)': () => w.process.kill(null),
        'process.kill(0)': () => w.process.kill(0),
        'send(undefined)': () => w.send(undefined),
        'send()': () => w.send(),
        'send(Symbol())': () => w.send(Symbol()),
        'send(() => {})': () => w.send(() => {}),
        'send(function f() {})': () => w.send(function f() {}),
        'send(1n)': () => w.send(1n),
        'send(x, null, "options")': () => w.send('x', null, 'options'),
        'send(x, null, [])': () => w.send('x', null, []),
        'send(x, null, null)': () => w.send('x', null, null),
        'send(x, null, 5)': () => w.send('x', null, 5),
        'send(x, {}) bad handle': () => w.send('x', {}),
        'send(x, "handle")': () => w.send('x', 'handle'),
      };
      for (const [label, fn] of Object.entries(tries)) {
        const result = attempt(fn);
        log('try', { worker: w.id, label, result, killed: w.process.killed, connected: w.isConnected(), dead: w.isDead() });
      }
      // How Node's errors print: `${err}` is "TypeError [ERR_X]: message".
      const strings = [];
      for (const fn of [() => w.kill('SIGNOPE'), () => w.send(undefined), () => w.send('x', null, 5)]) {
        try {
          fn();
        } catch (err) {
          strings.push({ string: String(err), template: `${err}`, name: err.name, ctorIsBase: err.constructor === TypeError });
        }
      }
      log('error-strings', { worker: w.id, strings });
      // Those that did not throw were sent; an 'end' marker tells when they all arrived.
      w.send('end');
    });
    w.on('message', (message) => {
      if (message?.received) {
        log('worker-received', { worker: w.id, received: message.received });
        w.kill();
      }
    });
  }

  function phaseD() {
    const good = {
      exec: cluster.settings.exec,
      args: cluster.settings.args,
      cwd: cluster.settings.cwd,
      uid: undefined,
      gid: undefined,
      serialization: undefined,
      stdio: undefined,
      inspectPort: undefined,
      execArgv: cluster.settings.execArgv,
      windowsHide: undefined,
    };
    const bad = {
      'exec: 123': { exec: 123 },
      'exec: {}': { exec: {} },
      'exec: with NUL': { exec: 'a\u0000b.js' },
      'args: "x"': { args: 'x' },
      'args: 5': { args: 5 },
      // (execArgv: [] so the index Node reports does not depend on the preload of the run)
      'args: [NUL]': { args: ['a\u0000b'], execArgv: [] },
      'execArgv: [NUL]': { execArgv: ['--a\u0000b'] },
      'cwd: 5': { cwd: 5 },
      'cwd: NUL': { cwd: '/tmp\u0000x' },
      'uid: "x"': { uid: 'x' },
      'uid: 1.5': { uid: 1.5 },
      'gid: "x"': { gid: 'x' },
      'serialization: bogus': { serialization: 'bogus' },
      'serialization: 5': { serialization: 5 },
      'stdio: [pipe, pipe, pipe]': { stdio: ['pipe', 'pipe', 'pipe'] },
      'stdio: [ipc, ipc]': { stdio: ['pipe', 'pipe', 'pipe', 'ipc', 'ipc'] },
      'stdio: "bogus"': { stdio: 'bogus' },
      'stdio: 5': { stdio: 5 },
      'inspectPort: null': { inspectPort: null },
      'windowsHide: "yes"': { windowsHide: 'yes' },
    };
    // The phase ends when every worker it forked has exited.
    let forked = 1;
    let exited = 0;
    const onExit = () => {
      if (++exited < forked) return;
      log('setup-events', { count: settingsKeys.length, distinct: [...new Set(settingsKeys)] });
      nextPhase();
    };
    for (const [label, settings] of Object.entries(bad)) {
      cluster.setupPrimary(settings);
      const result = attempt(() => cluster.fork({ SCENARIO_MODE: 'exit' }));
      if (result.returned) {
        // Accepted (Node ignores a stdio that is neither a string nor an array).
        const w = result.returned;
        forked++;
        result.returned = { worker: w.id };
        watch(w, onExit);
        w.on('online', () => w.send('go'));
      }
      log('bad-fork', { label, result, workers: keys() });
      cluster.setupPrimary(good);
    }
    // Ids are used up by failed forks too.
    const w = cluster.fork({ SCENARIO_MODE: 'exit' });
    log('good-fork', { id: w.id, workers: keys() });
    watch(w, onExit);
    w.on('online', () => w.send('go'));
  }

  function phaseE() {
    const exec = cluster.settings.exec;
    cluster.setupPrimary({ exec: path.join(__dirname, 'does-not-exist.js') });
    const w = cluster.fork();
    cluster.setupPrimary({ exec });
    log('forked-missing', { ...snap(w) });
    watch(w, nextPhase);
  }

  function phaseF() {
    const cwd = cluster.settings.cwd;
    cluster.setupPrimary({ cwd: path.join(__dirname, 'no-such-directory') });
    const result = attempt(() => cluster.fork({ SCENARIO_MODE: 'exit' }));
    cluster.setupPrimary({ cwd });
    if (!result.returned) {
      log('bad-cwd', { result });
      nextPhase();
      return;
    }
    const w = result.returned;
    log('bad-cwd', { ...snap(w), pid: typeof w.process.pid, connected: w.process.connected });
    w.on('error', () => {
      // Node emits 'error' and no 'exit': look at the worker once everything settled.
      setImmediate(() => {
        log('after-error', { ...snap(w), exitCode: w.process.exitCode, signalCode: w.process.signalCode, workers: keys() });
        // Node never removes it (no 'exit'); let go of it so the primary can end.
        if (w.process.connected) w.process.disconnect();
        nextPhase();
      });
    });
    watch(w);
  }

  nextPhase();
} else {
  const mode = process.env.SCENARIO_MODE;
  if (mode === 'exit') {
    process.on('message', (message) => {
      if (message === 'go') process.exit(0);
    });
  } else if (mode === 'stay') {
    setInterval(() => {}, 1 << 30);
    const received = [];
    process.on('message', (message) => {
      if (message === 'end') process.send({ received });
      else received.push(message);
    });
  }
}
