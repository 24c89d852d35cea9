'use strict';
// Health and resources, opt-in through cluster.setupPrimary(): the heartbeat, the memory
// limit, recycling, per-worker stats and CPU pinning. The Rust core watches (it samples
// /proc, tracks heartbeat deadlines and counts connections on its I/O thread, see
// core/src/health and core/src/reactor/watching.rs); this module validates the settings,
// adds the heartbeat preload to workers, emits the events and runs the replacements, one
// at a time, through supervision's surge-first replace.
const path = require('path');
const { native, configure: configurePrimary } = require('./native_primary');
const supervision = require('./supervision');
const { captureStack } = require('./stuck-stack');
const {
  ERR_INVALID_ARG_TYPE,
  ERR_INVALID_ARG_VALUE,
  ERR_OUT_OF_RANGE,
} = require('./errors');

const PRELOAD = path.join(__dirname, 'heartbeat-preload.js');
const HEARTBEAT_DEFAULTS = { interval: 1000, timeout: 10000 };
const SAMPLE_INTERVAL = 1000;
const SIGUSR1 = 10;
const SIGKILL = 9;
// How long an unresponsive worker has to give up its stack before SIGKILL.
const EVIDENCE_GRACE = 500;
const UNITS = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
const CPU_SETSIZE = 1024;

let cluster = null;
let binding = null;
let current = null; // the validated settings in effect (null: all off)
let allowed = null; // the primary's CPUs, for 'spread'
const byId = new Map(); // worker id -> Worker, while the core may speak of it
const slotForks = new Map(); // slot -> workers forked into it

function bindingModule() {
  if (binding === null) binding = require('./binding');
  return binding;
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function positive(value, name, { integer = false } = {}) {
  if (typeof value !== 'number') throw ERR_INVALID_ARG_TYPE(name, 'number', value);
  if (!(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw ERR_OUT_OF_RANGE(name, integer ? 'an integer > 0' : '> 0 and finite', value);
  }
  return value;
}

/** Bytes from a number or a string such as '512M', '1.5G', '256MB', '64KiB'. */
function parseBytes(value, name) {
  if (typeof value === 'number') return positive(value, name, { integer: true });
  if (typeof value !== 'string') throw ERR_INVALID_ARG_TYPE(name, ['number', 'string'], value);
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(value);
  const bytes = match && Math.floor(Number(match[1]) * UNITS[match[2].toUpperCase()]);
  if (!bytes) throw ERR_INVALID_ARG_VALUE(name, value, "must be a number of bytes or a size such as '512M'");
  return bytes;
}

function validateHeartbeat(value) {
  if (value === undefined || value === false) return null;
  if (value === true) return { ...HEARTBEAT_DEFAULTS };
  if (!isObject(value)) throw ERR_INVALID_ARG_TYPE('options.heartbeat', ['boolean', 'object'], value);
  const hb = { ...HEARTBEAT_DEFAULTS, ...value };
  positive(hb.interval, 'options.heartbeat.interval');
  positive(hb.timeout, 'options.heartbeat.timeout');
  if (hb.timeout <= hb.interval) {
    throw ERR_OUT_OF_RANGE('options.heartbeat.timeout', `> options.heartbeat.interval (${hb.interval})`, hb.timeout);
  }
  return { interval: hb.interval, timeout: hb.timeout };
}

function validateRecycle(value) {
  if (value === undefined || value === false) return null;
  if (!isObject(value)) throw ERR_INVALID_ARG_TYPE('options.recycle', 'object', value);
  const { connections, uptime, jitter = 0 } = value;
  if (connections !== undefined) positive(connections, 'options.recycle.connections', { integer: true });
  if (uptime !== undefined) positive(uptime, 'options.recycle.uptime');
  if (typeof jitter !== 'number') throw ERR_INVALID_ARG_TYPE('options.recycle.jitter', 'number', jitter);
  if (!(jitter >= 0) || !Number.isFinite(jitter)) throw ERR_OUT_OF_RANGE('options.recycle.jitter', '>= 0 and finite', jitter);
  if (connections === undefined && uptime === undefined) {
    throw ERR_INVALID_ARG_VALUE('options.recycle', value, 'must set connections or uptime');
  }
  return { connections, uptime, jitter };
}

function validateAffinity(value) {
  if (value === undefined || value === null) return null;
  if (value === 'spread') return value;
  if (!Array.isArray(value)) throw ERR_INVALID_ARG_VALUE('options.cpuAffinity', value, "must be 'spread' or an array of CPU lists");
  if (value.length === 0) throw ERR_INVALID_ARG_VALUE('options.cpuAffinity', value, 'must not be empty');
  value.forEach((list, i) => {
    const name = `options.cpuAffinity[${i}]`;
    if (!Array.isArray(list)) throw ERR_INVALID_ARG_TYPE(name, 'Array', list);
    if (list.length === 0) throw ERR_INVALID_ARG_VALUE(name, list, 'must list at least one CPU');
    list.forEach((cpu, j) => {
      if (typeof cpu !== 'number') throw ERR_INVALID_ARG_TYPE(`${name}[${j}]`, 'number', cpu);
      if (!Number.isInteger(cpu) || cpu < 0 || cpu >= CPU_SETSIZE) {
        throw ERR_OUT_OF_RANGE(`${name}[${j}]`, `an integer >= 0 and < ${CPU_SETSIZE}`, cpu);
      }
    });
  });
  return value.map((list) => [...list]);
}

/** Checks the health keys of `settings`; throws Node-style errors, changes nothing. */
function validate(settings) {
  const heartbeat = validateHeartbeat(settings.heartbeat);
  const maxMemory = settings.maxMemory === undefined ? null : parseBytes(settings.maxMemory, 'options.maxMemory');
  const memoryMetric = settings.memoryMetric ?? 'rss';
  if (memoryMetric !== 'rss' && memoryMetric !== 'pss') {
    throw ERR_INVALID_ARG_VALUE('options.memoryMetric', memoryMetric, "must be one of: 'rss', 'pss'");
  }
  const sampleInterval = settings.sampleInterval === undefined ? SAMPLE_INTERVAL
    : positive(settings.sampleInterval, 'options.sampleInterval');
  const recycle = validateRecycle(settings.recycle);
  const cpuAffinity = validateAffinity(settings.cpuAffinity);
  const on = heartbeat !== null || maxMemory !== null || recycle !== null;
  return { on, heartbeat, maxMemory, memoryMetric, sampleInterval, recycle, cpuAffinity };
}

/** Applies settings `validate` returned. Nothing reaches the core while all is off. */
function apply(config) {
  if (config.on || current?.on) {
    const hb = config.heartbeat;
    // SIGUSR1 opens the inspector, which yields the stuck stack (stuck-stack.js).
    configurePrimary({
      health: {
        heartbeatInterval: hb?.interval,
        heartbeatTimeout: hb?.timeout,
        evidenceSignal: SIGUSR1,
        evidenceGrace: EVIDENCE_GRACE,
        maxMemory: config.maxMemory ?? undefined,
        memoryMetric: config.memoryMetric,
        sampleInterval: config.sampleInterval,
        recycleConnections: config.recycle?.connections,
        recycleUptime: config.recycle?.uptime,
        recycleJitter: config.recycle?.jitter ?? 0,
      },
    });
  }
  if (config.cpuAffinity === 'spread' && allowed === null) allowed = bindingModule().allowedCpus();
  current = config;
}

/** What a new worker's spawn gets from these settings: execArgv and env additions, CPUs. */
function spawnAdditions(slot) {
  const additions = { execArgv: [], env: {}, cpuAffinity: undefined };
  if (current === null) return additions;
  if (current.heartbeat) {
    additions.execArgv.push('--require', PRELOAD);
    additions.env.RUST_CLUSTER_HEARTBEAT_INTERVAL = String(current.heartbeat.interval);
  }
  const place = slot ?? 0;
  if (current.cpuAffinity === 'spread' && allowed.length > 0) {
    additions.cpuAffinity = [allowed[place % allowed.length]];
  } else if (Array.isArray(current.cpuAffinity)) {
    additions.cpuAffinity = current.cpuAffinity[place % current.cpuAffinity.length];
  }
  return additions;
}

function onFork(worker, slot) {
  byId.set(worker.id, worker);
  worker.process.once('exit', () => byId.delete(worker.id));
  if (slot !== undefined) slotForks.set(slot, (slotForks.get(slot) ?? 0) + 1);
}

// ---- replacements, one at a time ----

const queue = [];
let replacing = false;

function enqueueReplace(worker) {
  if (queue.includes(worker)) return;
  queue.push(worker);
  pump();
}

function pump() {
  if (replacing || queue.length === 0) return;
  const old = queue.shift();
  if (old.isDead() || !old.isConnected()) return pump();
  replacing = true;
  const exited = new Promise((resolve) => (old.isDead() ? resolve() : old.process.once('exit', resolve)));
  supervision.replace(old)
    .then((worker) => (worker === undefined ? undefined : exited))
    .catch((err) => process.emitWarning(`rust-cluster: ${err.message}`, { code: err.code }))
    .finally(() => {
      replacing = false;
      pump();
    });
}

// ---- the core's findings ----

function onUnresponsive(worker, detail) {
  const info = {
    lastBeat: detail.lastBeatAgo == null ? null : Date.now() - detail.lastBeatAgo,
    eventLoopDelay: detail.eventLoopDelay ?? null,
  };
  worker.emit('unresponsive', info);
  cluster.emit('unresponsive', worker, info);
  // The core already stopped routing to it and signalled it; SIGKILL follows.
  if (cluster.settings.restart) {
    supervision.replace(worker, { stopOld: false });
  } else {
    supervision.markStopping(worker);
  }
  if (detail.signal === 'SIGUSR1') {
    const pid = worker.process.pid;
    captureStack(pid, Date.now() + EVIDENCE_GRACE - 50).then((stack) => {
      if (!worker.isDead()) native().kill(worker.id, SIGKILL);
      if (stack) {
        process.emitWarning(`worker ${worker.id} (pid ${pid}) was unresponsive, stuck at:\n${stack}`,
          { type: 'RustClusterWarning', code: 'RUST_CLUSTER_UNRESPONSIVE' });
      }
    });
  }
}

function onHealth(kind, id, detail) {
  const worker = byId.get(id);
  if (!worker || worker.isDead()) return;
  switch (kind) {
    case 'unresponsive':
      return onUnresponsive(worker, detail);
    case 'memory': {
      const info = { rss: detail.rss, pss: detail.pss ?? null, limit: detail.limit };
      worker.emit('memory', info);
      cluster.emit('memory', worker, info);
      return enqueueReplace(worker);
    }
    case 'recycle': {
      const info = { reason: detail.reason, connections: detail.connections, uptime: detail.uptime };
      worker.emit('recycle', info);
      cluster.emit('recycle', worker, info);
      return enqueueReplace(worker);
    }
    default:
  }
}

// ---- stats ----

function figures(s) {
  return {
    uptime: s ? s.uptime : 0,
    cpu: { user: s ? s.cpuUser : 0, system: s ? s.cpuSystem : 0 },
    cpuPercent: s ? s.cpuPercent : 0,
    rss: s ? s.rss : 0,
    pss: s?.pss ?? 0,
    fds: s ? s.fds : 0,
    threads: s ? s.threads : 0,
  };
}

function workerStats(worker) {
  const s = worker.process.pid === undefined ? undefined : native().workerStats(worker.id);
  const slot = supervision.slotOf(worker);
  return {
    id: worker.id,
    pid: worker.process.pid,
    state: worker.state,
    ready: worker.isReady(),
    ...figures(s),
    connections: s ? s.connections : 0,
    restarts: slot === undefined ? 0 : Math.max(0, (slotForks.get(slot) ?? 1) - 1),
    eventLoopDelay: current?.heartbeat ? (s?.eventLoopDelay ?? null) : undefined,
  };
}

function clusterStats() {
  const s = native().primaryStats();
  return {
    primary: { pid: process.pid, ...figures(s), uptime: Math.round(process.uptime() * 1000) },
    workers: Object.values(cluster.workers).map(workerStats),
  };
}

function availableParallelism() {
  return bindingModule().availableParallelism();
}

function install(clusterObject) {
  cluster = clusterObject;
}

module.exports = {
  install, validate, apply, spawnAdditions, onFork, onHealth, workerStats, clusterStats, availableParallelism,
};
