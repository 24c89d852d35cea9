'use strict';
// The native primary of this JavaScript environment, which exists only while a worker is
// alive; the routing of its event batches to worker processes; and the keep-alive that
// stands in for libuv's process and pipe handles.
const fs = require('fs');
const net = require('net');
const { isMainThread } = require('worker_threads');
const { setImmediate, setInterval, clearInterval } = require('./scheduling');

let primary = null;
const processes = new Map();

// Opens a round-robin TCP listener the way Node's RoundRobinHandle does, with
// net.Server#listen, and hands the descriptor to the core, which accepts on it.
function openListener(event) {
  const request = JSON.parse(event.text);
  const server = net.createServer(() => {});
  // The primary that asked (one that has ended since ignores the answer).
  const owner = primary;
  server.once('listening', () => {
    owner.listenerOpened(event.server, server._handle.fd);
    server.close();
  });
  server.once('error', (err) => owner.listenerFailed(event.server, typeof err.errno === 'number' ? err.errno : -22));
  server.listen({
    port: request.port,
    host: request.host ?? undefined,
    ipv6Only: request.ipv6Only,
    backlog: request.backlog ?? undefined,
  });
}

// A batch arrives as one flat array of cells, `cellsPerEvent` per event: [kind, worker,
// payload, a, b]. What each kind's `a` and `b` are is the binding's one definition
// (src/delivery.rs EVENT_LAYOUT), read here when the addon loads; each event becomes a
// small plain object.
let layout = null;

// Every event has the same fields, in the same order (one hidden class), so the code that
// reads them stays monomorphic and V8 does not keep re-optimizing it. The fields are those
// the layout names, plus the payload as `text` (a string: JSON, or another kind's text)
// or `bytes` (a Buffer: a V8-serialized frame), as the binding typed it.
function NativeEvent(kind, worker, payload) {
  this.kind = kind;
  this.worker = worker;
  this.text = typeof payload === 'string' ? payload : undefined;
  this.bytes = typeof payload === 'string' ? undefined : payload;
  this.act = undefined;
  this.fd = undefined;
  this.handleType = undefined;
  this.code = undefined;
  this.signal = undefined;
  this.writeId = undefined;
  this.server = undefined;
}

/** The layout the binding gives, checked against the fields events have. */
function readLayout(given) {
  const fields = new Set(Object.keys(new NativeEvent()));
  for (const name of [...given.a, ...given.b]) {
    if (name != null && !fields.has(name)) {
      throw new Error(`rust-cluster: the addon names an event field this facade lacks: ${name} (rebuild the addon)`);
    }
  }
  return given;
}

function decode(cells, i) {
  const number = cells[i];
  const event = new NativeEvent(layout.kinds[number], cells[i + 1], cells[i + 2]);
  const a = layout.a[number];
  const b = layout.b[number];
  if (a != null) event[a] = cells[i + 3];
  if (b != null) event[b] = cells[i + 4];
  return event;
}

function onEvents(cells) {
  for (let i = 0; i < cells.length; i += layout.cellsPerEvent) {
    const event = decode(cells, i);
    if (event.kind === 'open') {
      openListener(event);
      continue;
    }
    if (event.kind === 'health') {
      // A finding of the core's health watch: `act` says which, the payload its figures.
      if (onHealth !== null) onHealth(event.act, event.worker, JSON.parse(event.text));
      continue;
    }
    if (event.kind === 'timer') {
      // A supervision timer of the core: the payload says which, `worker` is its id.
      if (onTimer !== null) onTimer(event.text, event.worker);
      continue;
    }
    const proc = processes.get(event.worker);
    if (proc) {
      proc._onNativeEvent(event);
    } else if (event.fd != null) {
      // Nobody is left to own a descriptor that arrived late.
      try { fs.closeSync(event.fd); } catch {}
    }
  }
}

let binding = null;
let onTimer = null;
let onHealth = null;

/** Who hears the core's health findings (lib/health.js). */
function setHealthHandler(handler) {
  onHealth = handler;
}

/** Who hears the core's supervision timers (lib/supervision.js). */
function setTimerHandler(handler) {
  onTimer = handler;
}
let primaryIndex = 0;
// Settings a primary keeps (policy, frame limit, restart policy, readiness gate), by the
// method that sets them: the current primary gets each at once, every later one (see
// releaseWhenIdle) when it starts.
const settings = new Map();

function native() {
  if (primary === null) {
    binding = require('../binding');
    layout ??= readLayout(binding.eventLayout());
    primary = new binding.NativePrimary(onEvents, isMainThread);
    primaryIndex = primary.index;
    // Workers run this same Node (process.execPath), whose line decides how handles
    // are shared.
    primary.followNodeLine(Number(process.versions.node.split('.')[0]));
    for (const [method, args] of settings) primary[method](...args);
  }
  return primary;
}

/** Sets one of the primary's settings, for this primary and the ones after it. */
function configure(method, ...args) {
  settings.set(method, args);
  if (primary !== null) primary[method](...args);
}

const setPolicy = (name) => configure('setPolicy', name);
const setMaxFrame = (bytes) => configure('setMaxFrame', bytes);

// Whether something still needs this primary with no worker alive (supervision's pending
// restarts, reloads and scaling, whose timers and slots live in the core).
let needed = () => false;

function setNeeded(predicate) {
  needed = predicate;
}

// Once no worker is alive the primary ends: its I/O thread, descriptors and wake-up
// function are gone (so a test runner sees no open handle, and a process that loads this
// module in many environments or test files does not accumulate them); the next fork
// starts another. Deferred to the next turn of the loop, so a worker forked from an
// 'exit' listener reuses the running one.
let release = null;

function releaseWhenIdle() {
  if (release !== null || primary === null || processes.size !== 0) return;
  release = setImmediate(() => {
    release = null;
    if (primary !== null && processes.size === 0 && !needed()) {
      primary.shutdown();
      primary = null;
    }
  });
  release.unref();
}

function spawn(options) {
  const result = native().spawn(options);
  if (result.errno !== 0) releaseWhenIdle();
  return result;
}

// The per-message calls: see sendFrame in src/lib.rs. Each returns a negative errno, or
// the bytes still queued for the worker (0: the frame is written).
function sendString(id, frame, writeId) {
  native();
  return binding.sendString(primaryIndex, id, frame, writeId);
}

function sendFrame(id, frame, fd, writeId) {
  native();
  return binding.sendFrame(primaryIndex, id, frame, fd, writeId);
}

function register(id, proc) {
  processes.set(id, proc);
}

function unregister(id) {
  processes.delete(id);
  releaseWhenIdle();
}

// The native event function is weak (it never keeps the loop alive): a ref'd timer does,
// while any worker's process or channel handle would keep Node's own primary alive.
let refs = 0;
let keepAlive = null;

function ref() {
  if (refs++ === 0) keepAlive = setInterval(() => {}, 2 ** 31 - 1);
}

function unref() {
  if (--refs === 0) {
    clearInterval(keepAlive);
    keepAlive = null;
  }
}

/** The event contract as the loaded addon gives it (for the tests). */
function eventLayout() {
  native();
  return layout;
}

module.exports = {
  eventLayout, NativeEvent,
  native, spawn, configure, setPolicy, setMaxFrame, setNeeded, releaseWhenIdle,
  sendString, sendFrame, register, unregister, ref, unref, setTimerHandler, setHealthHandler,
};
