'use strict';
// `npm install` hook: build the addon from source with cargo unless a prebuilt binary for
// this platform is already present (and RUST_CLUSTER_FORCE_BUILD is not set).
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { binaryName } = require('../binding-name');

const root = path.join(__dirname, '..');
const target = path.join(root, binaryName);

if (fs.existsSync(target) && !process.env.RUST_CLUSTER_FORCE_BUILD) {
  console.log(`rust-cluster: using the prebuilt ${binaryName}`);
  process.exit(0);
}

const profile = process.env.RUST_CLUSTER_DEBUG_BUILD ? 'debug' : 'release';
const args = ['build', '-p', 'rust-cluster', '--locked'];
if (profile === 'release') args.push('--release');
console.log(`rust-cluster: building the addon from source (cargo ${args.join(' ')})`);
try {
  execFileSync('cargo', args, { cwd: root, stdio: 'inherit' });
} catch (err) {
  console.error('rust-cluster: the build failed; a Rust toolchain (cargo) is needed to install from source.');
  process.exit(1);
}
const targetDir = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
fs.copyFileSync(path.join(targetDir, profile, 'librust_cluster.so'), target);
console.log(`rust-cluster: built ${binaryName}`);
