'use strict';
// Preloaded with `node -r <this file>` when the tests run with
// RUST_CLUSTER_TEST_IMPL=builtin (or start(..., { impl: 'builtin' })).
// It makes `require('rust-cluster')` return Node's built-in `cluster` module,
// so every example and test can be checked against the reference behaviour.
// Cluster workers are started with the primary's execArgv, so they preload
// this file too and get the same redirection.
const Module = require('node:module');

const originalResolveFilename = Module._resolveFilename;
Module._resolveFilename = function resolveFilename(request, ...rest) {
  if (request === 'rust-cluster') return 'cluster';
  return originalResolveFilename.call(this, request, ...rest);
};
