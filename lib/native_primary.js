'use strict';
// The native primary of this JavaScript environment: made when a worker is first needed,
// ended once none is alive, each new one given the settings the last one had; and the
// per-message calls into it. Its events go to lib/event_routing.js.
const { isMainThread } = require('worker_threads');
const { setImmediate } = require('./scheduling');
const { readLayout } = require('./native_events');
const { processes, routeBatch } = require('./event_routing');

let binding = null;
let primary = null;
let primaryIndex = 0;
// Read from the binding when the addon loads (lib/native_events.js).
let layout = null;
// The settings a primary keeps (src/settings.rs PrimarySettings: policy, Node line, frame
// limit, restart policy, readiness gate, health watch), merged as they come: the current
// primary gets each change at once, every later one (see releaseWhenIdle) all of them
// when it starts. Workers run this same Node (process.execPath), whose line decides how
// handles are shared.
const settings = { nodeMajor: Number(process.versions.node.split('.')[0]) };

function onEvents(cells) {
  routeBatch(layout, cells, primary);
}

function native() {
  if (primary === null) {
    binding = require('./binding');
    layout ??= readLayout(binding.eventLayout());
    const fresh = new binding.NativePrimary(onEvents, isMainThread);
    try {
      fresh.configure(settings);
    } catch (err) {
      fresh.shutdown(); // never one with settings other than these
      throw err;
    }
    primary = fresh;
    primaryIndex = fresh.index;
  }
  return primary;
}

/**
 * Changes some of the primary's settings (`{ policy }`, `{ restart }`, ...; the others
 * stay), for this primary and the ones after it. Applied all or none: the binding refuses
 * a bad value with an error (ERR_OUT_OF_RANGE, ...) before anything is kept.
 */
function configure(changes) {
  if (primary !== null) primary.configure(changes);
  Object.assign(settings, changes);
}

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

/** A worker's process, alive: it gets its events, and keeps the primary from ending. */
function register(id, proc) {
  processes.set(id, proc);
}

function unregister(id) {
  processes.delete(id);
  releaseWhenIdle();
}

/** The event contract as the loaded addon gives it (for the tests). */
function eventLayout() {
  native();
  return layout;
}

module.exports = {
  eventLayout,
  native, spawn, configure, setNeeded, releaseWhenIdle,
  sendString, sendFrame, register, unregister,
};
