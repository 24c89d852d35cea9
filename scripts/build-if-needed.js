'use strict';
// `npm install` hook: build the addon from source with cargo unless a prebuilt binary for
// this platform is already present (and RUST_CLUSTER_FORCE_BUILD is not set).
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { binaryName } = require('../lib/binding-name');

const root = path.join(__dirname, '..');
const target = path.join(root, binaryName);
// Installed as a dependency (not a checkout of rust-cluster itself): cargo's build output
// (over 100 MB, of which the addon is about 1 MB) goes to a temporary directory that is
// removed afterwards, unless the user chose a target directory of their own.
const installed = root.split(path.sep).includes('node_modules');
const userTargetDir = process.env.CARGO_TARGET_DIR || process.env.CARGO_BUILD_TARGET_DIR;
const scratch = installed && !userTargetDir ? fs.mkdtempSync(path.join(os.tmpdir(), 'rust-cluster-build-')) : null;

if (fs.existsSync(target) && !process.env.RUST_CLUSTER_FORCE_BUILD) {
  console.log(`rust-cluster: using the prebuilt ${binaryName}`);
  process.exit(0);
}

const profile = process.env.RUST_CLUSTER_DEBUG_BUILD ? 'debug' : 'release';
const args = ['build', '-p', 'rust-cluster', '--locked'];
if (profile === 'release') args.push('--release');
console.log(`rust-cluster: building the addon from source (cargo ${args.join(' ')}); this takes about a minute`);
const started = Date.now();
// The artifact's path comes from cargo's own report (JSON messages on stdout; diagnostics
// stay human-readable on stderr): the target directory may be set by CARGO_TARGET_DIR,
// CARGO_BUILD_TARGET_DIR or a `[build] target-dir` in any .cargo/config.toml, and
// CARGO_BUILD_TARGET adds a <triple>/ level.
const result = spawnSync('cargo', [...args, '--message-format=json-render-diagnostics'], {
  cwd: root,
  env: scratch ? { ...process.env, CARGO_TARGET_DIR: scratch } : process.env,
  stdio: ['inherit', 'pipe', 'inherit'],
  encoding: 'utf8',
  maxBuffer: 1 << 30,
});
const removeScratch = () => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
};
if (result.error || result.status !== 0) {
  removeScratch();
  if (result.error) console.error(`rust-cluster: cannot run cargo: ${result.error.message}`);
  console.error('rust-cluster: the build failed; a Rust toolchain (cargo) is needed to install from source.');
  process.exit(1);
}
let built;
for (const line of result.stdout.split('\n')) {
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    if (line.trim()) console.log(line);
    continue;
  }
  if (message.reason === 'compiler-artifact' && message.target?.name === 'rust_cluster' &&
      message.target.kind?.includes('cdylib')) {
    built = message.filenames.find((file) => /\.(so|dylib|dll)$/.test(file));
  }
}
if (!built) {
  removeScratch();
  console.error('rust-cluster: cargo reported no rust_cluster cdylib artifact.');
  process.exit(1);
}
// Copy then rename: a running process that has the old addon mapped keeps its inode.
const staging = `${target}.${process.pid}.tmp`;
fs.copyFileSync(built, staging);
fs.renameSync(staging, target);
removeScratch();
console.log(`rust-cluster: built ${binaryName} in ${Math.round((Date.now() - started) / 1000)} s`);
