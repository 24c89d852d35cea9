'use strict';
// rust-cluster: a drop-in replacement for `require('cluster')`.
// In a worker this is Node's own worker-side cluster module (Node picked it during
// bootstrap, from NODE_UNIQUE_ID, before deleting that variable), so listen(), dgram,
// process.send() and cluster.worker are Node's code. In the primary it is the
// Rust-backed implementation.
const builtin = require('cluster');

module.exports = builtin.isWorker ? builtin : require('./lib/primary');
