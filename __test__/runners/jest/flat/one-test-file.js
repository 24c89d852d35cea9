'use strict';
// The body of each of the many test files __test__/runners.test.js generates and runs in
// one jest process: it records this process's threads and descriptors as the file starts
// (what every file before it left behind), then lives one worker through, under fake
// timers. The outer test asserts the counts stay flat.
const fs = require('fs');
const cluster = require('rust-cluster');
const { oneWorkerLife, checkLife, processCounts } = require('../../fixtures/lifecycle');

fs.appendFileSync(process.env.RUST_CLUSTER_COUNTS_FILE, `${JSON.stringify({ pid: process.pid, ...processCounts() })}\n`);

test('a worker lives and exits', async () => {
  jest.useFakeTimers();
  expect(checkLife(await oneWorkerLife(cluster))).toEqual([]);
});
