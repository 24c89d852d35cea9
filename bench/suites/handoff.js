'use strict';
// 7. handoff: the primary's own CPU per connection it hands to a worker (rr, and sticky for
// rust-cluster), one connection after another and 50 in flight, beside the C floor
// (../shared/limits/handoff.c: the same job with plain syscalls, Node's protocol). The
// method is that of ../shared/limits/handoff-cmp.sh: 2 workers that answer 'x'
// (scenarios/handoff-server.js), primary and workers on CPU 0, the client on CPU 1, warm-up
// connections first, then utime+stime of the primary (all its threads) from /proc around
// the measured connections.
// Without handoff.c or gcc (CI has no ../shared) the client is scenarios/handoff-client.js
// and the floor is reported as unavailable.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { start, ROOT } = require('../lib/proc');
const { cpuSeconds, which } = require('../lib/system');
const { selectedPolicies } = require('./http');

const SERVER = path.join(__dirname, '..', 'scenarios', 'handoff-server.js');
const NODE_CLIENT = path.join(__dirname, '..', 'scenarios', 'handoff-client.js');
const FLOOR_SOURCE = path.join(ROOT, '..', 'shared', 'limits', 'handoff.c');
const CONNS = Number(process.env.BENCH_HANDOFF_CONNS) || 10000;
const WARM = Number(process.env.BENCH_HANDOFF_WARM) || 2000;
const IN_FLIGHT = [1, 50];
const TIMEOUT_S = 120;

const METRICS = [
  { key: 'usPerConn', label: 'primary CPU us/conn', better: 'lower' },
  { key: 'connsPerSecond', label: 'connections/s', better: 'higher' },
  { key: 'errors', label: 'connection errors', better: 'lower', hideIfZero: true },
];

let tmpDir = null;
let floor; // { binary } or { unavailable: reason }, once per run

/** The floor's binary, compiled once per run into a temp dir, or why there is none. */
function floorBinary() {
  if (floor) return floor;
  if (!fs.existsSync(FLOOR_SOURCE)) return (floor = { unavailable: `${path.relative(ROOT, FLOOR_SOURCE)} not found` });
  if (!which('gcc')) return (floor = { unavailable: 'gcc not found' });
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rust-cluster-bench-handoff-'));
  const binary = path.join(tmpDir, 'handoff');
  const res = spawnSync('gcc', ['-O2', '-o', binary, FLOOR_SOURCE], { encoding: 'utf8' });
  if (res.status !== 0) return (floor = { unavailable: `gcc failed: ${res.stderr.trim().split('\n')[0]}` });
  return (floor = { binary });
}

/** Run a plain command to its end; resolves with the JSON of its last stdout line. */
async function runJson(file, args, cpu) {
  const proc = start(file, { args: args.map(String), node: false, cpu, stdin: 'ignore' });
  const timer = setTimeout(() => proc.cleanup(), (TIMEOUT_S + 10) * 1000);
  const { code, output } = await proc.exited;
  clearTimeout(timer);
  await proc.cleanup();
  const last = output.filter((l) => l.startsWith('{')).pop();
  if (code !== 0 || !last) throw new Error(`${path.basename(file)} ${args.join(' ')} failed (exit ${code}):\n${output.join('\n')}`);
  return JSON.parse(last);
}

/** n connections, c in flight, from the C client or the Node one: { connsPerSecond, errors }. */
async function client(port, n, c, cpu) {
  if (floor.binary) {
    const r = await runJson(floor.binary, ['-C', port, '-n', n, '-c', c, '-t', TIMEOUT_S], cpu);
    return { connsPerSecond: r.conns_per_s, errors: r.errors };
  }
  const proc = start(NODE_CLIENT, { args: [port, n, c], cpu, stdin: 'ignore' });
  try {
    return await proc.waitFor('result', { timeout: TIMEOUT_S * 1000 });
  } finally {
    await proc.cleanup();
  }
}

async function measureCluster(impl, policy, inFlight, config) {
  const proc = start(SERVER, { impl, cpu: config.pin?.cluster, env: { BENCH_POLICY: policy[impl] } });
  try {
    const { port, pid } = await proc.waitFor('ready', { timeout: 30000 });
    await client(port, WARM, inFlight, config.pin?.load); // JIT, first-connection costs
    const before = cpuSeconds(pid);
    const result = await client(port, CONNS, inFlight, config.pin?.load);
    const after = cpuSeconds(pid);
    const exits = proc.messages.filter((m) => m.type === 'worker-exit');
    if (exits.length) throw new Error(`workers exited during the run: ${JSON.stringify(exits)}`);
    return { usPerConn: ((after - before) * 1e6) / CONNS, connsPerSecond: result.connsPerSecond, errors: result.errors };
  } finally {
    await proc.cleanup();
  }
}

/** The floor pins its own roles (primary and workers on CPU 0, client on CPU 1). */
async function measureFloor(inFlight, config) {
  const args = ['-n', CONNS, '-c', inFlight, '-m', WARM, '-t', TIMEOUT_S, '-P', config.pin ? '0,0,1' : 'free'];
  const r = await runJson(floor.binary, args, null);
  return { usPerConn: r.primary_cpu_us_per_conn, connsPerSecond: r.conns_per_s, errors: r.errors };
}

module.exports = {
  name: 'handoff',
  cases(config) {
    floorBinary();
    const cases = [];
    for (const inFlight of IN_FLIGHT) {
      for (const policy of selectedPolicies().filter((p) => p.name === 'rr' || p.name === 'sticky')) {
        const vs = policy.builtin === policy.rust ? '' : ` (vs built-in ${policy.builtin})`;
        cases.push({
          name: `handoff ${policy.name}${vs}, ${inFlight === 1 ? '1 at a time' : `${inFlight} in flight`}`,
          impls: floor.binary ? ['builtin', 'rust', 'floor'] : ['builtin', 'rust'],
          floorUnavailable: floor.unavailable,
          metrics: METRICS,
          run: (impl) => (impl === 'floor' ? measureFloor(inFlight, config) : measureCluster(impl, policy, inFlight, config)),
        });
      }
    }
    return cases;
  },
  cleanup() {
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
    tmpDir = null;
    floor = undefined;
  },
};
