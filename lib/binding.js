'use strict';
// Loads the native addon built by `npm install` (scripts/build-if-needed.js), which puts
// it at the package's root.
const path = require('path');
const { binaryName } = require('./binding-name');

let binding;
try {
  binding = require(path.join(__dirname, '..', binaryName));
} catch (err) {
  // Installed as a dependency, the addon is built by the package's install script, which
  // npm skips under --ignore-scripts or when allowScripts does not cover it; `npm install`
  // does not run it again, `npm rebuild rust-cluster` does.
  const installed = __dirname.split(path.sep).includes('node_modules');
  const how = installed
    ? 'build it with `npm rebuild rust-cluster` (it needs a Rust toolchain: cargo); if npm skipped the install script, allow it with `npm install-scripts approve rust-cluster`'
    : 'build it with `npm install` or `npm run build` in this checkout (it needs a Rust toolchain: cargo)';
  const e = new Error(`rust-cluster: cannot load the native addon ${binaryName}: ${how}. ${err.message}`);
  e.code = 'ERR_RUST_CLUSTER_ADDON';
  e.cause = err;
  throw e;
}
module.exports = binding;
