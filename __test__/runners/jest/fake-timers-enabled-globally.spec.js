'use strict';
// fakeTimers.enableGlobally (see jest.config.js): the fakes are in place before
// rust-cluster loads.
const cluster = require('rust-cluster');
const { oneWorkerLife, checkLife } = require('../fixtures/lifecycle');

test('the timers are fake, and a worker lives and exits with every event', async () => {
  let fired = false;
  setTimeout(() => { fired = true; }, 60_000);
  jest.advanceTimersByTime(60_000);
  expect(fired).toBe(true);
  expect(checkLife(await oneWorkerLife(cluster))).toEqual([]);
});
