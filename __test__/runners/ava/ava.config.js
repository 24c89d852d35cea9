'use strict';
// The ava suites of __test__/runners.test.js, run in ava's default worker-thread mode and
// with `--no-worker-threads` (a child process per file). With
// RUST_CLUSTER_TEST_IMPL=builtin, `require('rust-cluster')` is Node's own cluster.
const path = require('path');

module.exports = {
  files: ['__test__/runners/ava/*.spec.js'],
  require: process.env.RUST_CLUSTER_TEST_IMPL === 'builtin'
    ? [path.join(__dirname, '..', '..', 'helpers', 'use-builtin.js')]
    : [],
  timeout: '60s',
};
