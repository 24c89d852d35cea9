'use strict';
// A user's ava test of their cluster code: every event, a message round trip, the exit.
const test = require('ava');
const { isMainThread } = require('worker_threads');
const cluster = require('rust-cluster');
const { oneWorkerLife, checkLife } = require('../fixtures/lifecycle');

test('a worker forks, comes online, listens, answers and exits, in Node\'s order', async (t) => {
  t.log(isMainThread ? 'in a child process' : 'in a worker thread', cluster === require('cluster') ? "(Node's built-in)" : '(rust-cluster)');
  t.deepEqual(checkLife(await oneWorkerLife(cluster)), []);
});
