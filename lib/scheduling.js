'use strict';
// The scheduling primitives every event of the facade goes through: Node's own, taken
// from the realm Node itself runs in, once, when the module loads. Node's cluster
// schedules with its internal process.nextTick, which a test runner's fake timers never
// reach; ours must not be reachable either. jest runs a test file in a vm context with a
// `process` and timers of its own (the ones `jest.useFakeTimers()` replaces, even before
// this module loads with `fakeTimers.enableGlobally`), but `vm.runInThisContext` runs in
// Node's main context, whose `process` is the real one, and `require('timers')` is Node's
// module, not the sandbox's globals.
const vm = require('vm');
const timers = require('timers');

const realProcess = vm.runInThisContext('process');

module.exports = {
  nextTick: realProcess.nextTick,
  setImmediate: timers.setImmediate,
  setInterval: timers.setInterval,
  clearInterval: timers.clearInterval,
  setTimeout: timers.setTimeout,
  clearTimeout: timers.clearTimeout,
};
