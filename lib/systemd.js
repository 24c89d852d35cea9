'use strict';
// systemd's side of the primary: the variables systemd hands a service's main process,
// taken once when the primary's module loads. The work is the core's (socket adoption:
// core/src/activation.rs; sd_notify and the watchdog: core/src/notify.rs); this module
// reads the environment, keeps what belongs to the primary alone out of the workers'
// environment, and decides when to notify from the cluster's events. Nothing happens
// unless the variables are set for this very process: without them, behaviour is Node's.

// sd_listen_fds(3): meant for the process whose pid LISTEN_PID names; removed once taken.
const ACTIVATION = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'];
// sd_notify(3), sd_watchdog_enabled(3): the primary is the service's main process; a
// worker must not speak for it. Left in the primary's environment, kept from workers'.
const NOTIFY = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'];

let adopted = 0;
let notifying = false;

function binding() {
  return require('./binding');
}

/** Adopts the sockets systemd passed to this process; returns how many. */
function adoptPassedSockets() {
  const env = process.env;
  if (env.LISTEN_PID === undefined || Number(env.LISTEN_PID) !== process.pid) return adopted;
  // Close-on-exec at once (before anything else can spawn a child): the addon does it.
  adopted = binding().adoptListenFds(env.LISTEN_PID, env.LISTEN_FDS, env.LISTEN_FDNAMES);
  for (const key of ACTIVATION) delete env[key];
  return adopted;
}

/** The environment a worker inherits from the primary's: without the primary's own variables. */
function workerEnvironment(env) {
  if (!notifying) return env;
  const copy = { ...env };
  for (const key of NOTIFY) delete copy[key];
  return copy;
}

function send(state) {
  if (notifying) binding().notify(state);
}

// What the service manager hears, from the cluster's events: READY=1 once every worker
// forked so far is ready (the first time), STATUS= on every change, STOPPING=1 when the
// primary begins to stop them; the watchdog pings while at least one worker is ready.
const ready = new Set();
let announced = false;
let stopping = false;

function alive(cluster) {
  return Object.values(cluster.workers).filter((w) => !w.isDead());
}

function statusLine(cluster) {
  const workers = alive(cluster).length;
  return `STATUS=${stopping ? 'stopping, ' : ''}${workers} worker${workers === 1 ? '' : 's'}, ${ready.size} ready`;
}

function update(cluster) {
  binding().notifyHealthy(ready.size > 0 && !stopping);
  const all = alive(cluster);
  if (!announced && !stopping && all.length > 0 && all.every((w) => ready.has(w.id))) {
    announced = true;
    send(`READY=1\n${statusLine(cluster)}`);
  } else {
    send(statusLine(cluster));
  }
}

/** Connects to NOTIFY_SOCKET, if set for this process. */
function connectNotify() {
  const env = process.env;
  if (!env.NOTIFY_SOCKET) return;
  notifying = binding().notifyConnect(env.NOTIFY_SOCKET, env.WATCHDOG_USEC, env.WATCHDOG_PID) === 0;
}

// Called by the primary (lib/primary.js) after it emitted the event, so no listener of
// ours shows on the cluster object.
function onReady(cluster, worker) {
  if (!notifying || ready.has(worker.id)) return;
  ready.add(worker.id);
  update(cluster);
}

function onExit(cluster, worker) {
  if (!notifying) return;
  ready.delete(worker.id);
  update(cluster);
}

/** The primary begins to stop its workers (a disconnect of all, a shutdown). */
function stoppingWorkers(cluster) {
  if (!notifying || stopping) return;
  stopping = true;
  send(`STOPPING=1\n${statusLine(cluster)}`);
  binding().notifyHealthy(false);
}

/** A reload begins (RELOADING=1 with MONOTONIC_USEC) or ended (READY=1). */
function reloading() {
  send('RELOADING=1');
}

function reloaded(cluster) {
  send(`READY=1\n${statusLine(cluster)}`);
}

module.exports = {
  adoptPassedSockets, connectNotify, onReady, onExit, workerEnvironment, stoppingWorkers, reloading, reloaded,
};
