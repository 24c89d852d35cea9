'use strict';
// Supervision, opt-in through cluster.setupPrimary(): restarts with backoff and limits,
// readiness, stops with a deadline, shutdown, rolling reload and scaling. The Rust core
// owns the timers (restart delays, deadlines, startup timeouts: see core/src/supervisor),
// so they fire while this thread is busy; this module validates the settings, keeps each
// worker's slot and state, forks when the core says so and emits the events.
const path = require('path');
const { native, configure: configurePrimary, setNeeded, releaseWhenIdle } = require('./native_primary');
const { ref, unref } = require('./keep_alive');
const scheduling = require('./scheduling');
// What the probes and the service manager hear of readiness, restarts, stops and reloads.
const metrics = require('./metrics');
const systemd = require('./systemd');

const { setTimeout, clearTimeout } = scheduling;
const { signalNumber } = require('./worker_process');
const {
  ERR_INVALID_ARG_TYPE,
  ERR_INVALID_ARG_VALUE,
  ERR_OUT_OF_RANGE,
} = require('./errors');

const SIGKILL = 9;
const PRELOAD = path.join(__dirname, 'worker_preload.js');
// How long a graceful stop lets keep-alive clients move away before the real disconnect.
const DRAIN_GRACE_MS = 1000;
const SUPERVISION_KEYS = ['restart', 'readyOn', 'startupTimeout', 'shutdownTimeout', 'shutdownSignals', 'reloadSignal'];
const READY_ON = ['listening', 'online', 'message'];
const RESTART_DEFAULTS = {
  delay: 100, maxDelay: 10000, factor: 2, jitter: 0, stableAfter: 30000, maxRestarts: 10, window: 60000,
};

let cluster = null;
let forkWorker = null;

// Per worker: { slot, env, ready, stopping, gated (readyOn 'message'), predecessor (the
// worker a reload's replacement replaces), preloaded (has lib/worker_preload.js), drained
// (what to do when its preload reports it drained) }.
const states = new WeakMap();
// Workers told to stop that have not exited yet (they may have left cluster.workers).
const stoppingWorkers = new Set();
// Slot -> the worker currently holding it (a replacement takes over at its fork).
const slotOwners = new Map();
// Slot -> what its pending restart needs: { env, old, attempt, delay, code, signal }.
const pendingRestarts = new Map();
let restartPolicy = null;
let readyOn = 'listening';
let startupTimeout;
let shutdownTimeout;
let shuttingDown = null;
let reloading = null;
// The slot the next fork goes into (a restart or a reload's replacement), else the lowest free.
let forcedSlot;
// The worker a reload's next fork replaces (it gets the slot back if the replacement fails).
let nextPredecessor = null;
const installedSignals = new Map();

function validateMs(value, name) {
  if (typeof value !== 'number') throw ERR_INVALID_ARG_TYPE(name, 'number', value);
  if (!Number.isFinite(value) || value < 0) throw ERR_OUT_OF_RANGE(name, '>= 0 and finite', value);
  return value;
}

function validateInteger(value, name, min) {
  if (typeof value !== 'number') throw ERR_INVALID_ARG_TYPE(name, 'number', value);
  if (!Number.isInteger(value) || value < min) throw ERR_OUT_OF_RANGE(name, `an integer >= ${min}`, value);
  return value;
}

function validateOptions(options, name) {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw ERR_INVALID_ARG_TYPE(name, 'object', options);
  }
  return options;
}

/** `timeout` of a stop: the option, else the settings' shutdownTimeout (undefined: none). */
function stopTimeout(options, name) {
  if (options.timeout === undefined) return shutdownTimeout;
  return validateMs(options.timeout, `${name}.timeout`);
}

function validateRestart(restart) {
  if (restart === undefined || restart === false) return null;
  if (restart === true) return { ...RESTART_DEFAULTS };
  if (restart === null || typeof restart !== 'object' || Array.isArray(restart)) {
    throw ERR_INVALID_ARG_TYPE('options.restart', ['boolean', 'object'], restart);
  }
  const policy = { ...RESTART_DEFAULTS, ...restart };
  for (const key of ['delay', 'maxDelay', 'stableAfter', 'window']) validateMs(policy[key], `options.restart.${key}`);
  validateMs(policy.factor, 'options.restart.factor');
  if (policy.factor < 1) throw ERR_OUT_OF_RANGE('options.restart.factor', '>= 1', policy.factor);
  validateMs(policy.jitter, 'options.restart.jitter');
  if (policy.jitter > 1) throw ERR_OUT_OF_RANGE('options.restart.jitter', '>= 0 and <= 1', policy.jitter);
  validateInteger(policy.maxRestarts, 'options.restart.maxRestarts', 0);
  return policy;
}

function validateSignalList(value, name) {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw ERR_INVALID_ARG_TYPE(name, 'Array', value);
  value.forEach((signal, i) => validateSignal(signal, `${name}[${i}]`));
  return value;
}

function validateSignal(signal, name) {
  if (typeof signal !== 'string') throw ERR_INVALID_ARG_TYPE(name, 'string', signal);
  signalNumber(signal); // ERR_UNKNOWN_SIGNAL
  return signal;
}

/**
 * Checks the supervision keys of `settings` (throws Node-style errors before anything
 * changes) and applies them.
 */
function configure(settings) {
  const policy = validateRestart(settings.restart);
  const on = settings.readyOn ?? 'listening';
  if (!READY_ON.includes(on)) {
    throw ERR_INVALID_ARG_VALUE('options.readyOn', on, `must be one of: ${READY_ON.map((s) => `'${s}'`).join(', ')}`);
  }
  const startup = settings.startupTimeout === undefined ? undefined
    : validateMs(settings.startupTimeout, 'options.startupTimeout');
  const shutdown = settings.shutdownTimeout === undefined ? undefined
    : validateMs(settings.shutdownTimeout, 'options.shutdownTimeout');
  const shutdownSignals = validateSignalList(settings.shutdownSignals, 'options.shutdownSignals');
  const reloadSignal = settings.reloadSignal === undefined ? undefined
    : validateSignal(settings.reloadSignal, 'options.reloadSignal');

  if (policy !== null || restartPolicy !== null) configurePrimary({ restart: policy });
  // Only readyOn 'message' needs the gate: a worker is listening once its queryServer is
  // answered, and online before it can ask.
  if ((on === 'message') !== (readyOn === 'message')) configurePrimary({ readinessGate: on === 'message' });
  if (policy === null && restartPolicy !== null) dropPendingRestarts();
  restartPolicy = policy;
  readyOn = on;
  startupTimeout = startup;
  shutdownTimeout = shutdown;
  installSignals(shutdownSignals, reloadSignal);
}

/** Whether workers forked with `settings` get the drain preload (any supervision key set). */
function wantsPreload(settings) {
  return SUPERVISION_KEYS.some((key) => settings[key] !== undefined && settings[key] !== false);
}

/** The execArgv additions of a supervised worker. */
function workerExecArgv(settings) {
  return wantsPreload(settings) ? ['--require', PRELOAD] : [];
}

function installSignals(shutdownSignals, reloadSignal) {
  const wanted = new Map(shutdownSignals.map((s) => [s.toUpperCase(), onShutdownSignal]));
  if (reloadSignal !== undefined) wanted.set(reloadSignal.toUpperCase(), onReloadSignal);
  for (const [signal, handler] of installedSignals) {
    if (wanted.get(signal) !== handler) {
      process.removeListener(signal, handler);
      installedSignals.delete(signal);
    }
  }
  for (const [signal, handler] of wanted) {
    if (installedSignals.get(signal) === handler) continue;
    process.on(signal, handler);
    installedSignals.set(signal, handler);
  }
}

function onShutdownSignal() {
  if (shuttingDown !== null) {
    // A second signal: stop waiting.
    for (const worker of Object.values(cluster.workers)) killNow(worker);
    for (const worker of stoppingWorkers) killNow(worker);
    process.exit(1);
  }
  cluster.shutdown().then(() => process.exit(0));
}

function onReloadSignal() {
  cluster.reload().catch((err) => process.emitWarning(`rust-cluster: reload failed: ${err.message}`));
}

function killNow(worker) {
  if (!worker.isDead()) native().kill(worker.id, SIGKILL);
}

function state(worker) {
  return states.get(worker);
}

// A slot is taken by a worker that is neither dead nor being stopped (as the core frees a
// stopping worker's sticky slot at once), or by a pending restart.
function slotTaken(slot) {
  const owner = slotOwners.get(slot);
  const held = owner !== undefined && !owner.isDead() && !state(owner).stopping;
  return held || pendingRestarts.has(slot);
}

/** The slot of the worker about to be forked: a restart's or replacement's, else the lowest free. */
function nextSlot() {
  if (forcedSlot !== undefined) return forcedSlot;
  let slot = 0;
  while (slotTaken(slot)) slot++;
  return slot;
}

/** cluster.fork() created `worker` in `slot`: watch for its readiness. */
function onFork(worker, env, slot) {
  forcedSlot = undefined;
  states.set(worker, {
    slot, env, ready: false, stopping: false, predecessor: nextPredecessor,
    preloaded: wantsPreload(cluster.settings), drained: null,
  });
  nextPredecessor = null;
  slotOwners.set(slot, worker);
  if (restartPolicy !== null) native().slotStarted(slot);
  if (worker.process.pid === undefined) return; // spawn failed: its 'error' follows
  if (startupTimeout !== undefined) native().killAfter(worker.id, startupTimeout, SIGKILL, true);
  if (readyOn === 'message') {
    // The core holds connections back from it until it says so (see configure).
    states.get(worker).gated = true;
    worker.on('message', function onReadyMessage(message) {
      if (message === 'ready') {
        worker.removeListener('message', onReadyMessage);
        markReady(worker);
      }
    });
  }
}

function onOnline(worker) {
  if (readyOn === 'online') markReady(worker);
}

function onListening(worker) {
  if (readyOn === 'listening') markReady(worker);
}

function markReady(worker) {
  const st = state(worker);
  if (!st || st.ready || st.stopping || worker.isDead()) return;
  st.ready = true;
  if (startupTimeout !== undefined) native().cancelKill(worker.id, true);
  if (st.gated) native().workerReady(worker.id);
  // Probes and the service manager know before any listener hears of it.
  metrics.onReady(worker);
  systemd.onReady(cluster, worker);
  worker.emit('ready');
  cluster.emit('ready', worker);
}

function isReady(worker) {
  const st = state(worker);
  return !!st && st.ready && !st.stopping && !worker.isDead();
}

/** The worker is being stopped on purpose: never restarted, no longer counted as ready. */
function markStopping(worker) {
  const st = state(worker);
  if (st) st.stopping = true;
  if (!worker.isDead()) stoppingWorkers.add(worker);
}

/** A stop's deadline: SIGKILL from the core's I/O thread `timeout` ms from now. */
function setDeadline(worker, timeout) {
  if (timeout !== undefined && !worker.isDead()) native().killAfter(worker.id, timeout, SIGKILL, false);
}

/**
 * A supervised stop: no new connection from now, keep-alive clients moved away (see
 * lib/worker_preload.js), then Node's disconnect(); SIGKILL at the deadline.
 */
function gracefulStop(worker, timeout) {
  markStopping(worker);
  setDeadline(worker, timeout);
  const st = state(worker);
  if (!worker.isConnected()) return;
  if (!st?.preloaded) {
    worker.disconnect();
    return;
  }
  native().stopRouting(worker.id);
  worker.process._sendInternal({ cmd: 'NODE_RUST_CLUSTER_DRAIN' });
  let timer = null;
  const finish = () => {
    clearTimeout(timer);
    st.drained = null;
    if (worker.isConnected()) worker.disconnect();
  };
  st.drained = finish;
  timer = setTimeout(finish, timeout === undefined ? DRAIN_GRACE_MS : Math.min(DRAIN_GRACE_MS, timeout / 2));
}

/** The worker's preload says no connection that carried a request is left. */
function onDrained(worker) {
  const finish = state(worker)?.drained;
  if (finish) finish();
}

/** A timer of the core fired: 'restart' (id: the slot). ('startupTimeout', id: the worker
 * just killed, needs nothing here: its exit counts as unexpected like any other.) */
function onTimer(kind, id) {
  if (kind === 'restart') restartSlot(id);
}

function restartSlot(slot) {
  const pending = pendingRestarts.get(slot);
  if (!pending) return;
  pendingRestarts.delete(slot);
  unref();
  if (shuttingDown !== null || restartPolicy === null) return releaseWhenIdle();
  forcedSlot = slot;
  const worker = forkWorker(pending.env);
  metrics.onRestart(worker, pending.attempt);
  scheduling.nextTick(() => cluster.emit('restart', worker, pending.old, {
    attempt: pending.attempt, delay: pending.delay, code: pending.code, signal: pending.signal,
  }));
}

function dropPendingRestarts() {
  native().cancelRestarts();
  for (let i = 0; i < pendingRestarts.size; i++) unref();
  pendingRestarts.clear();
  releaseWhenIdle();
}

/** After the 'exit' events: restart the slot, give it up, or free it. */
function onExit(worker, code, signal) {
  stoppingWorkers.delete(worker);
  const st = state(worker);
  if (!st) return;
  if (slotOwners.get(st.slot) !== worker) return; // replaced already
  if (st.predecessor !== null && !st.ready) {
    // A reload's replacement that never became ready: the reload fails, and the worker it
    // was to replace keeps its slot.
    if (!st.predecessor.isDead()) slotOwners.set(st.slot, st.predecessor);
    else slotOwners.delete(st.slot);
    return;
  }
  slotOwners.delete(st.slot);
  const unexpected = !worker.exitedAfterDisconnect && !st.stopping && !worker.process.killed;
  if (!unexpected || restartPolicy === null || shuttingDown !== null) {
    if (restartPolicy !== null) native().forgetSlot(st.slot);
    return;
  }
  const decision = native().slotExited(st.slot);
  if (!decision) return;
  if (decision.giveUp) {
    cluster.emit('giveup', worker, { restarts: decision.restarts, window: decision.window });
    return;
  }
  // The core fires a 'restart' timer after the delay; until then the loop stays alive.
  ref();
  pendingRestarts.set(st.slot, {
    env: st.env, old: worker, attempt: decision.attempt, delay: decision.delay, code, signal,
  });
}

// ---- stops ----

/** Resolves when every worker alive now (or stopping) has exited. */
function allExited() {
  const waiting = new Set([...Object.values(cluster.workers), ...stoppingWorkers].filter((w) => !w.isDead()));
  if (waiting.size === 0) return Promise.resolve();
  return new Promise((resolve) => {
    for (const worker of waiting) {
      worker.once('exit', () => {
        waiting.delete(worker);
        if (waiting.size === 0) resolve();
      });
    }
  });
}

function shutdown(options) {
  options = validateOptions(options, 'options');
  const timeout = stopTimeout(options, 'options');
  if (shuttingDown !== null) return shuttingDown;
  // /readyz turns 503 and systemd hears STOPPING=1 before any worker is told.
  metrics.stopping();
  systemd.stoppingWorkers(cluster);
  dropPendingRestarts();
  if (reloading !== null) reloading.abort();
  const done = allExited();
  for (const worker of [...Object.values(cluster.workers), ...stoppingWorkers]) {
    if (state(worker)?.stopping) setDeadline(worker, timeout);
    else gracefulStop(worker, timeout);
  }
  shuttingDown = done.then(() => {
    shuttingDown = null;
  });
  return shuttingDown;
}

// ---- reload ----

function exited(worker) {
  return new Promise((resolve) => (worker.isDead() ? resolve() : worker.once('exit', resolve)));
}

/** Resolves when `worker` is ready; rejects (an Error with `code` and `worker`) if it exits
 * first or is not ready within `limit` ms. */
function waitReady(worker, limit, { what = 'reload', code = 'ERR_CLUSTER_RELOAD_FAILED' } = {}) {
  return new Promise((resolve, reject) => {
    let timer;
    const fail = (reason) => {
      clearTimeout(timer);
      worker.removeListener('ready', onReady);
      worker.removeListener('exit', onExit);
      const err = new Error(`rust-cluster: ${what} failed: worker ${worker.id} ${reason}`);
      err.code = code;
      err.worker = worker;
      reject(err);
    };
    const onReady = () => {
      clearTimeout(timer);
      worker.removeListener('exit', onExit);
      resolve(worker);
    };
    const onExit = (code, signal) => fail(`exited (${signal ?? `code ${code}`}) before it was ready`);
    worker.once('ready', onReady);
    worker.once('exit', onExit);
    if (limit !== undefined) timer = setTimeout(() => fail(`was not ready within ${limit} ms`), limit);
    if (isReady(worker)) onReady();
  });
}

function forkReplacement(old) {
  forcedSlot = state(old).slot;
  nextPredecessor = old;
  return forkWorker(state(old).env);
}

function reload(options) {
  options = validateOptions(options, 'options');
  const concurrency = options.concurrency === undefined ? 1
    : validateInteger(options.concurrency, 'options.concurrency', 1);
  const timeout = stopTimeout(options, 'options');
  if (reloading !== null) return reloading.promise;
  const readyLimit = startupTimeout ?? timeout;
  systemd.reloading();
  let aborted = false;
  const started = new Set();
  const run = async () => {
    const olds = Object.values(cluster.workers)
      .filter((w) => !state(w)?.stopping && !w.isDead())
      .sort((a, b) => a.id - b.id);
    const replaced = [];
    const exits = [];
    for (let i = 0; i < olds.length && !aborted; i += concurrency) {
      const group = olds.slice(i, i + concurrency).filter((w) => !w.isDead() && !state(w).stopping);
      const news = group.map((old) => {
        const worker = forkReplacement(old);
        started.add(worker);
        return worker;
      });
      try {
        await Promise.all(news.map((w) => waitReady(w, readyLimit)));
      } catch (err) {
        // Stop every replacement of the group; the old workers keep their slots and serve.
        for (let k = 0; k < news.length; k++) {
          const worker = news[k];
          markStopping(worker);
          if (!worker.isDead()) {
            if (worker.isConnected()) worker.disconnect();
            native().kill(worker.id, SIGKILL);
          }
          if (!group[k].isDead() && slotOwners.get(state(group[k]).slot) === worker) {
            slotOwners.set(state(group[k]).slot, group[k]);
          }
        }
        throw err;
      }
      for (let k = 0; k < group.length; k++) {
        exits.push(exited(group[k]));
        gracefulStop(group[k], timeout);
        replaced.push([group[k].id, news[k].id]);
      }
    }
    // Done when the old workers are gone (the deadline bounds it).
    await Promise.all(exits);
    cluster.emit('reload', { replaced });
    return { replaced };
  };
  const promise = run().finally(() => {
    reloading = null;
    systemd.reloaded(cluster);
  });
  reloading = {
    promise,
    abort() {
      aborted = true;
    },
  };
  return promise;
}

// ---- scale ----

function scale(n) {
  validateInteger(n, 'n', 0);
  const live = Object.values(cluster.workers)
    .filter((w) => !w.isDead() && !state(w)?.stopping)
    .sort((a, b) => a.id - b.id);
  const waits = [];
  // Pending restarts count as workers the primary keeps.
  let count = live.length + pendingRestarts.size;
  for (const slot of [...pendingRestarts.keys()].sort((a, b) => b - a)) {
    if (count <= n) break;
    pendingRestarts.delete(slot);
    native().forgetSlot(slot);
    unref();
    count--;
  }
  while (count > n && live.length > 0) {
    const worker = live.pop();
    waits.push(exited(worker));
    gracefulStop(worker, shutdownTimeout);
    native().forgetSlot(state(worker).slot);
    count--;
  }
  const failure = { what: 'scale', code: 'ERR_CLUSTER_SCALE_FAILED' };
  for (; count < n; count++) waits.push(waitReady(forkWorker(), startupTimeout, failure));
  for (const worker of live) if (!isReady(worker)) waits.push(waitReady(worker, startupTimeout, failure));
  return Promise.all(waits).then(() => undefined);
}

// ---- one worker's replacement (the health watch's: memory, recycling, unresponsive) ----

/**
 * Surge-first replace of `old`: a new worker in its slot, and once that one is ready, the
 * old one stopped gracefully, as reload() stops it (SIGKILL after `timeout`, default
 * shutdownTimeout). With
 * `stopOld: false` the old one is being killed anyway and the new one is not waited for.
 * Resolves with the new worker; rejects (ERR_CLUSTER_REPLACE_FAILED) if it never gets
 * ready, and the old one keeps its slot.
 */
function replace(old, { timeout = shutdownTimeout, stopOld = true } = {}) {
  const st = state(old);
  if (!st || st.stopping || old.isDead() || shuttingDown !== null) return Promise.resolve(undefined);
  if (!stopOld) markStopping(old);
  const worker = forkReplacement(old);
  if (!stopOld) return Promise.resolve(worker);
  const failure = { what: 'replace', code: 'ERR_CLUSTER_REPLACE_FAILED' };
  return waitReady(worker, startupTimeout ?? timeout, failure).then(() => {
    if (!old.isDead() && !state(old).stopping) gracefulStop(old, timeout);
    return worker;
  }, (err) => {
    markStopping(worker);
    if (!worker.isDead()) {
      if (worker.isConnected()) worker.disconnect();
      native().kill(worker.id, SIGKILL);
    }
    // Its exit gives the slot back to `old` (see onExit).
    throw err;
  });
}

/** The slot of `worker` (undefined for a worker supervision never saw). */
function slotOf(worker) {
  return state(worker)?.slot;
}

function install(clusterObject, fork) {
  cluster = clusterObject;
  forkWorker = fork;
  // With no worker alive, the primary still holds what a pending restart or a reload
  // needs (its timers and slots are the core's).
  setNeeded(() => pendingRestarts.size > 0 || reloading !== null);
}

module.exports = {
  install,
  configure,
  workerExecArgv,
  onDrained,
  nextSlot,
  onFork,
  onOnline,
  onListening,
  onExit,
  onTimer,
  isReady,
  markStopping,
  setDeadline,
  stopTimeout,
  shutdown,
  reload,
  scale,
  replace,
  slotOf,
};
