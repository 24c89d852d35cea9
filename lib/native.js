'use strict';
// The one native primary of this process, the routing of its event batches to worker
// processes, and the keep-alive that stands in for libuv's process and pipe handles.
const fs = require('fs');

let primary = null;
const processes = new Map();

function onEvents(events) {
  for (const event of events) {
    const proc = processes.get(event.worker);
    if (proc) {
      proc._onNativeEvent(event);
    } else if (event.fd != null) {
      // Nobody is left to own a descriptor that arrived late.
      try { fs.closeSync(event.fd); } catch {}
    }
  }
}

function native() {
  if (primary === null) {
    const binding = require('../binding');
    primary = new binding.NativePrimary(onEvents);
  }
  return primary;
}

function register(id, proc) {
  processes.set(id, proc);
}

function unregister(id) {
  processes.delete(id);
  if (primary !== null) primary.forget(id);
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

module.exports = { native, register, unregister, ref, unref };
