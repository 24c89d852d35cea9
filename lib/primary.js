'use strict';
// The primary's `cluster` object. Its JavaScript is what must be JavaScript: the
// EventEmitter, settings, Worker bookkeeping and event order, following Node's
// lib/internal/cluster/primary.js. A worker's spawn options are checked in
// lib/child_process.js, its inspector port picked in lib/inspector.js; servers, connection
// handoff and the wire protocol are the Rust core's (see core/src/reactor.rs).
const EventEmitter = require('events');
const { WorkerProcess } = require('./worker_process');
const Worker = require('./worker');
const { native, configure: configurePrimary } = require('./native_primary');
const { setTimerHandler, setHealthHandler } = require('./event_routing');
const { nextTick } = require('./scheduling');
const supervision = require('./supervision');
const health = require('./health');
const { ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE } = require('./errors');
const { normalizeFork } = require('./child_process');
const { workerInspectArgs } = require('./inspector');

const cluster = new EventEmitter();
const intercom = new EventEmitter();
const policies = require('./policies');
const systemd = require('./systemd');
const metrics = require('./metrics');

cluster.isWorker = false;
cluster.isMaster = true; // Deprecated alias. Must be same as isPrimary.
cluster.isPrimary = true;
cluster.Worker = Worker;
cluster.workers = {};
cluster.settings = {};
Object.assign(cluster, policies.CONSTANTS);

let ids = 0;
let initialized = false;
// rust-cluster: setupPrimary({ logFormat }): workers' stdout and stderr, line by line, on
// the primary's own, prefixed with the worker or as JSON lines (read by the core).
const LOG_FORMATS = ['prefix', 'json'];

// Sockets systemd passed to this primary (socket activation) serve the workers' listen();
// under a service manager that listens (NOTIFY_SOCKET), it hears of readiness and stops.
systemd.adoptPassedSockets();
systemd.connectNotify();

cluster.schedulingPolicy = policies.BY_NAME[process.env.NODE_CLUSTER_SCHED_POLICY] ?? policies.SCHED_RR;

// rust-cluster's own settings are checked before anything is applied, so a call that
// throws changes nothing and a corrected call works.
function validateOwnSettings(options) {
  if (options == null) return;
  if (options.schedulingPolicy !== undefined && policies.policyOf(options.schedulingPolicy) === undefined) {
    throw ERR_INVALID_ARG_VALUE('options.schedulingPolicy', options.schedulingPolicy, policies.ALLOWED);
  }
  metrics.validate(options.metrics);
  if (options.logFormat !== undefined && !LOG_FORMATS.includes(options.logFormat)) {
    throw ERR_INVALID_ARG_VALUE('options.logFormat', options.logFormat, "must be one of: 'prefix', 'json'");
  }
  const limit = options.maxMessageBytes;
  if (limit !== undefined) {
    if (typeof limit !== 'number') throw ERR_INVALID_ARG_TYPE('options.maxMessageBytes', 'number', limit);
    if (!Number.isInteger(limit) || limit < 1) throw ERR_OUT_OF_RANGE('options.maxMessageBytes', 'an integer >= 1', limit);
  }
}

cluster.setupPrimary = function setupPrimary(options) {
  validateOwnSettings(options);
  const settings = {
    args: process.argv.slice(2),
    exec: process.argv[1],
    execArgv: process.execArgv,
    silent: false,
    ...cluster.settings,
    ...options,
  };
  // rust-cluster's health keys (heartbeat, maxMemory, ...) and supervision keys (restart,
  // readyOn, ...): checked before anything changes.
  const healthConfig = health.validate(settings);
  supervision.configure(settings);
  health.apply(healthConfig);
  // rust-cluster's metrics endpoint starts with the first settings that ask for it.
  metrics.configure(settings, cluster);

  // Give V8 one profile log per process, as Node does.
  if (settings.execArgv.some((s) => s.startsWith('--prof')) &&
      !settings.execArgv.some((s) => s.startsWith('--logfile='))) {
    settings.execArgv = [...settings.execArgv, '--logfile=v8-%p.log'];
  }

  if (initialized === true) {
    cluster.settings = settings;
    return nextTick(setupSettingsNT, settings);
  }

  // rust-cluster also takes the policy from the settings (a number or its name).
  const policy = settings.schedulingPolicy !== undefined
    ? policies.policyOf(settings.schedulingPolicy)
    : cluster.schedulingPolicy;
  // Node asserts here (ERR_INTERNAL_ASSERTION, a bug in Node); a bad value set by the
  // user is a bad argument, and nothing is frozen until the policy is good.
  if (policies.NAME_OF[policy] === undefined) {
    throw ERR_INVALID_ARG_VALUE('cluster.schedulingPolicy', cluster.schedulingPolicy, policies.ALLOWED);
  }
  cluster.settings = settings;
  initialized = true;
  cluster.schedulingPolicy = policy; // Frozen: the core keeps the policy it is given now.
  configurePrimary({ policy: policies.NAME_OF[policy] });
  nextTick(setupSettingsNT, settings);
};

// rust-cluster: the largest message a worker may send (bytes); a worker that exceeds it
// broke the protocol and is killed. Applies to workers forked afterwards.
function applyMessageLimit(settings) {
  if (settings.maxMessageBytes !== undefined) configurePrimary({ maxFrameBytes: settings.maxMessageBytes });
}

// Deprecated alias must be same as setupPrimary.
cluster.setupMaster = cluster.setupPrimary;

function setupSettingsNT(settings) {
  cluster.emit('setup', settings);
}

function createWorkerProcess(id, env, slot) {
  const settings = cluster.settings;
  applyMessageLimit(settings);
  const additions = health.spawnAdditions(slot);
  const workerEnv = { ...systemd.workerEnvironment(process.env), ...env, ...additions.env, NODE_UNIQUE_ID: `${id}` };
  const execArgv = [...additions.execArgv, ...settings.execArgv, ...supervision.workerExecArgv(settings), ...metrics.workerExecArgv()];
  execArgv.push(...workerInspectArgs(settings));
  const spawn = normalizeFork(settings, execArgv, workerEnv);
  // rust-cluster: the core reads the lines of workers whose output it formats.
  if (settings.logFormat !== undefined) {
    spawn.stdio[1] = 'pipe';
    spawn.stdio[2] = 'pipe';
  }
  return new WorkerProcess(id, {
    execPath: process.execPath,
    ...spawn,
    logFormat: settings.logFormat,
    slot,
    cpuAffinity: additions.cpuAffinity,
  });
}

function removeWorker(worker) {
  delete cluster.workers[worker.id];
  if (Object.keys(cluster.workers).length === 0) intercom.emit('disconnect');
}

cluster.fork = function fork(env) {
  cluster.setupPrimary();
  const id = ++ids;
  const slot = supervision.nextSlot();
  const workerProcess = createWorkerProcess(id, env, slot);
  const worker = new Worker({ id, process: workerProcess });

  worker.on('message', function onMessage(message, handle) {
    cluster.emit('message', this, message, handle);
  });

  worker.process.once('exit', (exitCode, signalCode) => {
    // Its last lines come before anything said about its exit.
    if (cluster.settings.logFormat !== undefined) require('./binding').logsDrain(worker.id);
    // Remove the worker from the list only once it is also disconnected; until then
    // it may still be accessed.
    if (!worker.isConnected()) removeWorker(worker);
    worker.exitedAfterDisconnect = !!worker.exitedAfterDisconnect;
    worker.state = 'dead';
    worker.emit('exit', exitCode, signalCode);
    cluster.emit('exit', worker, exitCode, signalCode);
    systemd.onExit(cluster, worker);
    metrics.onExit(worker);
    supervision.onExit(worker, exitCode, signalCode);
  });

  worker.process.once('disconnect', () => {
    // The core already released this worker's servers when the channel closed.
    if (worker.isDead()) removeWorker(worker);
    worker.exitedAfterDisconnect = !!worker.exitedAfterDisconnect;
    worker.state = 'disconnected';
    worker.emit('disconnect');
    cluster.emit('disconnect', worker);
  });

  worker.process.on('internalMessage', (message) => onInternalMessage(worker, message));
  nextTick(emitForkNT, worker);
  cluster.workers[worker.id] = worker;
  supervision.onFork(worker, env, slot);
  health.onFork(worker, slot);
  metrics.onFork(worker);
  return worker;
};

supervision.install(cluster, (env) => cluster.fork(env));
setTimerHandler(supervision.onTimer);
health.install(cluster);
setHealthHandler(health.onHealth);

function emitForkNT(worker) {
  cluster.emit('fork', worker);
}

cluster.disconnect = function disconnect(options, cb) {
  // rust-cluster: disconnect({ timeout }, cb) kills what is still alive after `timeout` ms.
  // Anything but an object first is Node's disconnect(cb).
  if (!isOptionsObject(options)) {
    cb = options;
    options = undefined;
  }
  const timeout = options === undefined ? undefined : supervision.stopTimeout(options, 'options');
  systemd.stoppingWorkers(cluster);
  metrics.stopping();
  const workers = Object.values(cluster.workers);
  if (workers.length === 0) {
    nextTick(() => intercom.emit('disconnect'));
  } else {
    for (const worker of workers) {
      if (worker.isConnected()) worker.disconnect(timeout === undefined ? undefined : { timeout });
    }
  }
  if (typeof cb === 'function') intercom.once('disconnect', cb);
};

cluster.shutdown = supervision.shutdown;
cluster.reload = supervision.reload;
cluster.scale = supervision.scale;
cluster.stats = health.clusterStats;
cluster.availableParallelism = health.availableParallelism;

function isOptionsObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function onInternalMessage(worker, message) {
  if (message.cmd === 'NODE_RUST_CLUSTER_DRAINED') return supervision.onDrained(worker);
  if (message.cmd !== 'NODE_CLUSTER') return;
  switch (message.act) {
    case 'online':
      worker.state = 'online';
      worker.emit('online');
      cluster.emit('online', worker);
      supervision.onOnline(worker);
      break;
    case 'listening': {
      const info = {
        addressType: message.addressType,
        address: message.address,
        port: message.port,
        fd: message.fd,
      };
      worker.state = 'listening';
      worker.emit('listening', info);
      cluster.emit('listening', worker, info);
      supervision.onListening(worker);
      break;
    }
    case 'exitedAfterDisconnect':
      // The core has already acknowledged it.
      worker.exitedAfterDisconnect = true;
      break;
    default:
  }
}

// The primary-side Worker methods.
Worker.prototype.disconnect = function disconnect(options) {
  // rust-cluster: disconnect({ timeout }) kills the worker if it is still alive then. Node's
  // takes no argument and ignores any, so only an object is read as options.
  const timeout = isOptionsObject(options) ? supervision.stopTimeout(options, 'options') : undefined;
  this.exitedAfterDisconnect = true;
  supervision.markStopping(this);
  if (this.process.connected) native().disconnectWorker(this.id);
  supervision.setDeadline(this, timeout);
  removeWorker(this);
  return this;
};

Worker.prototype.destroy = function destroy(signo) {
  const signal = signo || 'SIGTERM';
  supervision.markStopping(this);
  this.process.kill(signal);
};

/** rust-cluster: where the metrics endpoint listens ({ address, port, path }), or null. */
cluster.metricsAddress = metrics.address;

/** rust-cluster: the worker's figures from /proc, as the core reads them now. */
Worker.prototype.stats = function stats() {
  return health.workerStats(this);
};

/** rust-cluster: ready (see `readyOn`) and not being stopped. */
Worker.prototype.isReady = function isReady() {
  return supervision.isReady(this);
};

module.exports = cluster;
