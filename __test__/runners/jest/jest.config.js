'use strict';
// The jest suites of __test__/runners.test.js. With RUST_CLUSTER_TEST_IMPL=builtin,
// `require('rust-cluster')` is Node's own cluster, for comparison.
const path = require('path');

const moduleNameMapper = process.env.RUST_CLUSTER_TEST_IMPL === 'builtin'
  ? { '^rust-cluster$': path.join(__dirname, '..', 'fixtures', 'builtin-cluster.js') }
  : {};
const common = { rootDir: __dirname, testEnvironment: 'node', moduleNameMapper };

module.exports = {
  projects: [
    {
      ...common,
      displayName: 'fake timers per test',
      testMatch: ['<rootDir>/*.spec.js'],
      testPathIgnorePatterns: ['enabled-globally'],
    },
    {
      ...common,
      displayName: 'fake timers enabled globally',
      testMatch: ['<rootDir>/fake-timers-enabled-globally.spec.js'],
      // Installed before any module of the test file loads.
      fakeTimers: { enableGlobally: true },
    },
  ],
};
