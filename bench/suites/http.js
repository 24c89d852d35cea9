'use strict';
// 1. http: two workers behind each scheduling policy, loaded by wrk on loopback.
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { start, ROOT } = require('../lib/proc');
const { load } = require('../lib/load');
const { cpuSeconds } = require('../lib/system');

const SCRIPT = path.join(__dirname, '..', 'scenarios', 'http-server.js');

// NODE_CLUSTER_SCHED_POLICY per implementation. Policies that only rust-cluster has are
// compared against the closest built-in one, and run only when rust-cluster exports all
// the constants in `requires`.
const POLICIES = [
  { name: 'rr', builtin: 'rr', rust: 'rr' },
  { name: 'none', builtin: 'none', rust: 'none' },
  { name: 'reuseport', builtin: 'none', rust: 'reuseport', requires: ['SCHED_REUSEPORT'] },
  { name: 'sticky', builtin: 'rr', rust: 'sticky', requires: ['SCHED_REUSEPORT', 'SCHED_STICKY'] },
];
const MODES = ['keepalive', 'close'];

const METRICS = [
  { key: 'rps', label: 'requests/s', better: 'higher' },
  { key: 'p99Ms', label: 'p99 latency ms', better: 'lower' },
  { key: 'busiestPct', label: 'busiest worker %', better: 'lower' },
  { key: 'primaryUsPerReq', label: 'primary CPU us/req', better: 'lower' },
  { key: 'errors', label: 'socket errors', better: 'lower', hideIfZero: true },
];

/** The SCHED_* constants rust-cluster exports (asked in a separate process). */
function rustConstants() {
  const res = spawnSync(process.execPath, ['-e',
    "process.stdout.write(JSON.stringify(Object.keys(require('rust-cluster')).filter((k) => k.startsWith('SCHED_'))))"],
  { cwd: ROOT, encoding: 'utf8', timeout: 20000 });
  try {
    return JSON.parse(res.stdout);
  } catch {
    return [];
  }
}

function selectedPolicies() {
  const wanted = process.env.BENCH_POLICIES?.split(',').map((s) => s.trim()).filter(Boolean);
  const constants = rustConstants();
  return POLICIES.filter((p) => (!wanted || wanted.includes(p.name)) &&
    (p.requires ?? []).every((c) => constants.includes(c)));
}

async function counts(proc) {
  const from = proc.messages.length;
  proc.send({ cmd: 'counts' });
  return (await proc.waitFor('counts', { from, timeout: 10000 })).counts;
}

/** Start the server, warm up, and measure one load run. */
async function measure(impl, { policy, mode, workers = 2 }, config) {
  const proc = start(SCRIPT, {
    impl,
    cpu: config.pin?.cluster,
    env: { BENCH_WORKERS: workers, NODE_CLUSTER_SCHED_POLICY: policy[impl] },
  });
  try {
    const { port, pid } = await proc.waitFor('ready', { timeout: 30000 });
    const loadOptions = { port, connections: config.connections, mode, cpu: config.pin?.load };
    await load({ ...loadOptions, seconds: config.warmup });
    const before = await counts(proc);
    const cpuBefore = cpuSeconds(pid);
    const result = await load({ ...loadOptions, seconds: config.duration });
    const cpuAfter = cpuSeconds(pid);
    const after = await counts(proc);
    const exits = proc.messages.filter((m) => m.type === 'worker-exit');
    if (exits.length) throw new Error(`workers exited during the run: ${JSON.stringify(exits)}`);
    const served = after.map((n, i) => n - before[i]);
    const total = served.reduce((s, n) => s + n, 0);
    return {
      rps: result.rps,
      p99Ms: result.p99Ms,
      busiestPct: total ? (100 * Math.max(...served)) / total : null,
      primaryUsPerReq: result.requests ? ((cpuAfter - cpuBefore) * 1e6) / result.requests : null,
      errors: result.errors,
      served,
    };
  } finally {
    await proc.cleanup();
  }
}

module.exports = {
  name: 'http',
  measure,
  selectedPolicies,
  cases(config) {
    const cases = [];
    for (const mode of MODES) {
      for (const policy of selectedPolicies()) {
        const vs = policy.builtin === policy.rust ? '' : ` (vs built-in ${policy.builtin})`;
        cases.push({
          name: `http ${mode} ${policy.name}${vs}`,
          impls: ['builtin', 'rust'],
          metrics: METRICS,
          run: (impl) => measure(impl, { policy, mode }, config),
        });
      }
    }
    return cases;
  },
};
