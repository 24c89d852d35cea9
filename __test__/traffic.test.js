'use strict';
// Issue 11, section 0: under every scheduling policy, over TCP and over a Unix socket,
// 4 HTTP workers take traffic and then still answer messages, serve a keep-alive
// connection and leave on cluster.disconnect(), cycle after cycle (fixtures/traffic.js).
// And every descriptor a worker receives is in the state Node's own primary gives it:
// the listening socket (none; reuseport, which hands out a socket per worker) and the
// connections (rr, sticky: accepted by the primary) non-blocking, as with the built-in.
// A blocking shared socket freezes a worker that loses the race for a connection in
// accept4() (until the next one comes): a message, a request or the disconnect then
// hangs, which the fixture's deadlines turn into a failure naming the step and worker.
//
// none and rr run against Node's built-in in the same run (concurrently); rust-cluster's
// own sticky and reuseport are held to the built-in policy that hands workers the same
// kind of descriptor (sticky: rr, connections; reuseport: none, a listening socket).
//
//   node --test __test__/traffic.test.js
//   RUST_CLUSTER_TRAFFIC_CYCLES=30 node --test __test__/traffic.test.js   # hunt the race longer

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { start, cleanupAll } = require('./helpers/run.js');

const FIXTURE = path.join(__dirname, 'fixtures', 'traffic.js');
const CYCLES = Number(process.env.RUST_CLUSTER_TRAFFIC_CYCLES ?? 8);
const WORKERS = 4;
const ROUNDS = 4;
const BURST = 8;
const KEEPALIVE = 5;
// Failure guards only (a cycle takes well under a second).
const STEP_TIMEOUT_MS = 10_000;
const RUN_TIMEOUT_MS = 60_000 + CYCLES * 10_000;

const POLICY_IDS = { none: 1, rr: 2, reuseport: 3, sticky: 4 };
/** The policies Node's built-in has. */
const BUILTIN_POLICIES = new Set(['none', 'rr']);
/** The built-in policy whose workers get the same kind of descriptor. */
const REFERENCE_POLICY = { none: 'none', rr: 'rr', sticky: 'rr', reuseport: 'none' };
const TRANSPORTS = { tcp: 'TCP (port 0)', unix: 'a Unix socket' };

after(cleanupAll);

/** Runs the fixture once; resolves with its events and exit status, every process gone. */
async function runTraffic(impl, policy, transport) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-traffic-'));
  const proc = start(FIXTURE, {
    impl,
    env: {
      NODE_CLUSTER_SCHED_POLICY: policy,
      TRAFFIC_TRANSPORT: transport,
      TRAFFIC_SOCK_DIR: dir,
      TRAFFIC_CYCLES: CYCLES,
      TRAFFIC_WORKERS: WORKERS,
      TRAFFIC_ROUNDS: ROUNDS,
      TRAFFIC_BURST: BURST,
      TRAFFIC_STEP_TIMEOUT_MS: STEP_TIMEOUT_MS,
    },
  });
  try {
    const end = await proc.waitFor(/^\{"ev":"(done|fail)"/, { timeout: RUN_TIMEOUT_MS });
    const status = await proc.waitForExit({ timeout: 15_000 });
    await proc.waitForNoProcesses({ timeout: 15_000 });
    const events = proc.jsonLines();
    return { impl, policy, transport, end: JSON.parse(end.line), status, events, output: proc.output() };
  } finally {
    await proc.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The built-in's runs, each started once and shared by the tests that compare with it. */
const references = new Map();
function reference(policy, transport) {
  const key = `${policy}/${transport}`;
  if (!references.has(key)) {
    const run = runTraffic('builtin', policy, transport);
    run.catch(() => {}); // reported by the test that awaits it
    references.set(key, run);
  }
  return references.get(key);
}

const label = (run) => `${run.impl === 'builtin' ? "Node's built-in" : 'rust-cluster'} (${run.policy}, ${run.transport})`;

/** The distinct descriptor states of a kind ('listen' | 'conn'), as { fd, nonblock }. */
function fdStates(run, kind) {
  const seen = new Map();
  for (const e of run.events.filter((x) => x.ev === 'fds' && x.kind === kind)) {
    for (const { fd, nonblock, flags, id } of e.states) {
      const key = JSON.stringify({ fd, nonblock });
      if (!seen.has(key)) seen.set(key, `worker ${id} in cycle ${e.cycle}${flags ? `: flags ${flags}` : ''}`);
    }
  }
  return [...seen].map(([key, where]) => ({ ...JSON.parse(key), where }));
}

const bare = (states) => states.map(({ fd, nonblock }) => ({ fd, nonblock })).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
const describeStates = (states) => states.map((s) => `${JSON.stringify({ fd: s.fd, nonblock: s.nonblock })} (first: ${s.where})`).join('; ') || '(none reported)';

/** Every cycle ran to the end: traffic, a pong from every worker, keep-alive, disconnect. */
function assertCycles(run) {
  const policyEvent = run.events.find((e) => e.ev === 'policy');
  assert.equal(policyEvent?.policy, POLICY_IDS[run.policy], `${label(run)}: cluster.schedulingPolicy`);
  if (run.end.ev === 'fail') {
    assert.fail(`${label(run)}: cycle ${run.end.cycle} of ${CYCLES}, step "${run.end.step}": ${run.end.message}\n` +
      `(after traffic a worker stopped answering: see issue 11, section 0)\n` +
      `--- output (non-JSON lines) ---\n${run.output.split('\n').filter((l) => !l.startsWith('{')).slice(-30).join('\n')}`);
  }
  const cycles = run.events.filter((e) => e.ev === 'cycle');
  assert.equal(cycles.length, CYCLES, `${label(run)}: cycles completed`);
  const requestsPerCycle = ROUNDS * BURST;
  for (const c of cycles) {
    const where = `${label(run)}, cycle ${c.cycle}`;
    assert.equal(Object.values(c.served).reduce((a, b) => a + b, 0), requestsPerCycle, `${where}: requests answered`);
    assert.ok(Object.keys(c.served).every((id) => Number(id) > 0), `${where}: answered by workers`);
    // One keep-alive connection, reused for every request after the first, one worker.
    assert.deepEqual(c.keepAlive, { reused: [false, ...Array(KEEPALIVE - 1).fill(true)], workers: 1 }, `${where}: keep-alive`);
    assert.equal(c.exits.length, WORKERS, `${where}: exits`);
    for (const e of c.exits) {
      assert.deepEqual([e.code, e.signal, e.exitedAfterDisconnect], [0, null, true], `${where}: worker ${e.id} exit`);
    }
    assert.equal(c.left, 0, `${where}: cluster.workers empty after the disconnect`);
  }
  assert.deepEqual(run.status, { code: 0, signal: null }, `${label(run)}: primary exit`);
}

/** The workers' descriptors are in the state the built-in's are, and that is non-blocking. */
function assertDescriptors(run, ref) {
  for (const kind of ['listen', 'conn']) {
    const what = kind === 'listen' ? 'listening socket (server._handle.fd)' : 'accepted connection (req.socket._handle.fd)';
    const mine = fdStates(run, kind);
    const theirs = fdStates(ref, kind);
    assert.ok(theirs.length > 0, `${label(ref)} reported its ${what}`);
    assert.ok(mine.length > 0, `${label(run)} reported its ${what}`);
    assert.deepEqual(bare(mine), bare(theirs),
      `${what}: ${label(run)} gives workers ${describeStates(mine)}; ${label(ref)} gives ${describeStates(theirs)}`);
  }
}

/** What the built-in itself gives: an fd in the worker only where the worker accepts, always O_NONBLOCK. */
function assertBuiltinDescriptors(ref) {
  const workerAccepts = ref.policy === 'none';
  assert.deepEqual(bare(fdStates(ref, 'listen')), [workerAccepts ? { fd: true, nonblock: true } : { fd: false, nonblock: undefined }],
    `${label(ref)}: listening socket ${describeStates(fdStates(ref, 'listen'))}`);
  assert.deepEqual(bare(fdStates(ref, 'conn')), [{ fd: true, nonblock: true }],
    `${label(ref)}: connections ${describeStates(fdStates(ref, 'conn'))}`);
}

for (const transport of Object.keys(TRANSPORTS)) {
  for (const policy of ['none', 'rr', 'sticky', 'reuseport']) {
    const ownPolicy = !BUILTIN_POLICIES.has(policy);
    const title = `${policy} over ${TRANSPORTS[transport]}: ${WORKERS} workers, ${CYCLES} cycles of traffic, ` +
      `ping to every worker, keep-alive, disconnect${ownPolicy ? '' : "; Node's built-in the same"}`;
    test(title, { timeout: 2 * RUN_TIMEOUT_MS }, async (t) => {
      const refPolicy = REFERENCE_POLICY[policy];
      const [ref, run] = await Promise.all([reference(refPolicy, transport), runTraffic('rust', policy, transport)]);
      if (!ownPolicy) {
        await t.test("Node's built-in: every cycle completes; its descriptors are non-blocking", () => {
          assertCycles(ref);
          assertBuiltinDescriptors(ref);
        });
      }
      await t.test(`rust-cluster: descriptors as the built-in's (${refPolicy}) give them`, () => assertDescriptors(run, ref));
      await t.test('rust-cluster: every cycle completes', () => assertCycles(run));
    });
  }
}
