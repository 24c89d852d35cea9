'use strict';
// rust-cluster: a drop-in replacement for `require('cluster')`.
// In a worker this is Node's own worker-side cluster module (Node picked it during
// bootstrap, from NODE_UNIQUE_ID, before deleting that variable), so listen(), dgram,
// process.send() and cluster.worker are Node's code. In the primary it is the
// Rust-backed implementation.
const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  // The primary half of the protocol is checked against Node 20, 22 and 24 only.
  const err = new Error(`rust-cluster needs Node.js 20 or newer (this is ${process.version})`);
  err.code = 'ERR_RUST_CLUSTER_UNSUPPORTED_NODE';
  throw err;
}
const builtin = require('cluster');

if (builtin.isWorker) {
  // rust-cluster's policy constants are there in a worker too (as in the primary), so
  // shared code may name them whichever role it runs in; nothing else of Node's worker
  // side is touched.
  const { CONSTANTS } = require('./lib/policies');
  for (const [name, value] of Object.entries(CONSTANTS)) {
    if (!(name in builtin)) builtin[name] = value;
  }
}

module.exports = builtin.isWorker ? builtin : require('./lib/primary');
