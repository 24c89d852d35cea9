'use strict';
// rust-cluster under the test runners users run it in: the jest suites
// (__test__/runners/jest: fake timers, per test and enabled globally) with
// --detectOpenHandles, many test files in one jest process whose thread and descriptor
// counts must stay flat, and the ava suite in both of ava's modes (worker threads, child
// processes). Each runs against rust-cluster and against Node's built-in cluster
// (RUST_CLUSTER_TEST_IMPL=builtin), which passes all of it.
const test = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const RUNNERS = path.join(__dirname, 'runners');
const JEST = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
const AVA = path.join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
const MANY_FILES = 30;

/** Runs a runner's CLI to its end; resolves with its exit code and all it printed. */
function run(script, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: ROOT,
      env: { ...process.env, CI: 'true', FORCE_COLOR: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

function assertNoOpenHandle(output) {
  assert.doesNotMatch(output, /open handle/i, output);
}

for (const impl of ['rust', 'builtin']) {
  const env = { RUST_CLUSTER_TEST_IMPL: impl };

  test(`${impl}: jest, fake timers (per test, and enabled globally), --detectOpenHandles reports nothing`, async () => {
    const { code, output } = await run(JEST, [
      '--config', path.join(RUNNERS, 'jest', 'jest.config.js'), '--detectOpenHandles', '--runInBand', '--ci',
    ], env);
    assert.strictEqual(code, 0, output);
    assert.match(output, /Tests:\s+5 passed, 5 total/, output);
    assertNoOpenHandle(output);
  });

  test(`${impl}: ${MANY_FILES} test files in one jest process: threads and descriptors stay flat, no open handle`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rust-cluster-jest-'));
    try {
      const body = path.join(RUNNERS, 'jest', 'flat', 'one-test-file.js');
      for (let i = 0; i < MANY_FILES; i++) {
        fs.writeFileSync(path.join(dir, `file-${String(i).padStart(2, '0')}.spec.js`), `require(${JSON.stringify(body)});\n`);
      }
      const counts = path.join(dir, 'counts.jsonl');
      const config = path.join(dir, 'jest.config.js');
      const moduleNameMapper = impl === 'builtin'
        ? { '^rust-cluster$': path.join(RUNNERS, 'fixtures', 'builtin-cluster.js') }
        : {};
      fs.writeFileSync(config, `module.exports = ${JSON.stringify({
        rootDir: dir, testEnvironment: 'node', testMatch: ['<rootDir>/*.spec.js'], moduleNameMapper,
      })};\n`);
      const { code, output } = await run(JEST, [
        '--config', config, '--detectOpenHandles', '--runInBand', '--ci', '--cacheDirectory', path.join(dir, 'cache'),
      ], { ...env, RUST_CLUSTER_COUNTS_FILE: counts });
      assert.strictEqual(code, 0, output);
      assert.match(output, new RegExp(`Tests:\\s+${MANY_FILES} passed, ${MANY_FILES} total`), output);
      assertNoOpenHandle(output);
      const records = fs.readFileSync(counts, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
      assert.strictEqual(records.length, MANY_FILES);
      assert.strictEqual(new Set(records.map((r) => r.pid)).size, 1, 'all files ran in one process');
      // As each file starts, what the files before it left behind. The first two pay
      // once-per-process costs (rust-cluster's spawner thread and watchdog socket, Node's
      // and jest's own); from then on nothing may accumulate.
      const settled = records.slice(2).map(({ threads, fds }) => ({ threads, fds }));
      assert.deepStrictEqual(settled, settled.map(() => settled[0]), JSON.stringify(records));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const mode of ['worker threads', 'child processes']) {
    test(`${impl}: ava (${mode})`, async () => {
      const args = ['--config', path.join(RUNNERS, 'ava', 'ava.config.js'), '--verbose'];
      if (mode === 'child processes') args.push('--no-worker-threads');
      const { code, output } = await run(AVA, args, env);
      assert.strictEqual(code, 0, output);
      assert.match(output, /1 test passed/, output);
      assert.match(output, mode === 'worker threads' ? /in a worker thread/ : /in a child process/, output);
      assert.match(output, impl === 'builtin' ? /\(Node's built-in\)/ : /\(rust-cluster\)/, output);
    });
  }
}
