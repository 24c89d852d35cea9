'use strict';
// Where each event of a batch goes: a worker's to its `worker.process`, a listener request
// to lib/rr_listener.js, the core's health findings and supervision timers to the
// handlers lib/health.js and lib/supervision.js set. A descriptor nobody is left to own
// is closed.
const fs = require('fs');
const { decode } = require('./native_events');
const { openListener } = require('./rr_listener');

// The worker processes alive in this environment, by worker id.
const processes = new Map();
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

/** One batch of `owner` (the native primary), decoded by `layout`. */
function routeBatch(layout, cells, owner) {
  for (let i = 0; i < cells.length; i += layout.cellsPerEvent) {
    const event = decode(layout, cells, i);
    if (event.kind === 'open') {
      openListener(event, owner);
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

module.exports = { processes, routeBatch, setTimerHandler, setHealthHandler };
