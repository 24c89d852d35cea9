'use strict';
// Loads the native addon built by `npm install` (scripts/build-if-needed.js).
const path = require('path');
const { binaryName } = require('./binding-name');

let binding;
try {
  binding = require(path.join(__dirname, binaryName));
} catch (err) {
  const e = new Error(`rust-cluster: cannot load the native addon ${binaryName} (run \`npm install\` to build it): ${err.message}`);
  e.code = 'ERR_RUST_CLUSTER_ADDON';
  e.cause = err;
  throw e;
}
module.exports = binding;
