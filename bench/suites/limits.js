'use strict';
// 5. limits: what the machine allows, to read the other figures against.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { ROOT, implArgs, taggedEnv } = require('../lib/proc');
const { median } = require('../lib/stats');
const { which } = require('../lib/system');

const STARTS = 10; // node start-ups per sample
const FLOOR_ROUND_TRIPS = 200000;
let floorBinary = null;
let tmpDir = null;

const env = () => taggedEnv('limits');

/** Median wall time in ms of `node ...args` over STARTS runs. */
function startupMs(args) {
  const times = [];
  for (let i = 0; i < STARTS; i++) {
    const t0 = process.hrtime.bigint();
    const res = spawnSync(process.execPath, args, { cwd: ROOT, env: env(), stdio: 'ignore', timeout: 30000 });
    if (res.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${res.error?.message ?? `exit ${res.status}`}`);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

function compileFloor() {
  if (floorBinary) return floorBinary;
  if (!which('gcc')) throw new Error('gcc not found: no IPC floor');
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rust-cluster-bench-'));
  const out = path.join(tmpDir, 'ipc-floor');
  const res = spawnSync('gcc', ['-O2', '-o', out, path.join(__dirname, '..', 'scenarios', 'ipc-floor.c')], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`gcc failed: ${res.stderr}`);
  floorBinary = out;
  return out;
}

function ipcFloor() {
  const res = spawnSync(compileFloor(), [String(FLOOR_ROUND_TRIPS), '32'], { encoding: 'utf8', env: env(), timeout: 60000 });
  const value = Number(res.stdout.trim());
  if (res.status !== 0 || !value) throw new Error(`ipc-floor failed: ${res.stderr || res.error?.message}`);
  return value;
}

module.exports = {
  name: 'limits',
  cases() {
    return [
      {
        name: "node -e '' start-up",
        impls: [null],
        metrics: [{ key: 'ms', label: `wall ms (median of ${STARTS})`, better: 'lower' }],
        run: async () => ({ ms: startupMs(['-e', '']) }),
      },
      {
        name: "node -e \"require('rust-cluster')\"",
        impls: ['builtin', 'rust'],
        metrics: [{ key: 'ms', label: `wall ms (median of ${STARTS})`, better: 'lower' }],
        run: async (impl) => ({
          ms: startupMs([...implArgs(impl), '-e', "require('rust-cluster')"]),
        }),
      },
      {
        name: 'IPC floor: C socketpair ping-pong, 32 B',
        impls: [null],
        metrics: [{ key: 'perSecond', label: 'round trips/s', better: 'higher' }],
        run: async () => ({ perSecond: ipcFloor() }),
      },
    ];
  },
  cleanup() {
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  },
};
