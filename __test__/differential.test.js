'use strict';
// Differential tests: every scenario in __test__/scenarios/ runs twice, once with Node's
// built-in cluster (through helpers/use-builtin.js) and once with rust-cluster. Each
// process of a run prints what it observes as JSON lines ({"src":"P"|"W<id>","ev":...},
// see helpers/scenario-events.js). The logs are normalized and must be equal: Node's behaviour
// is the reference. Normalized (helpers/differential.js): ports and pids become placeholders
// that keep their equalities; the events of each process, and the primary's events about
// each worker, are compared as separate sequences (their interleaving is up to the OS);
// lanes named "~..." are compared as sets. Run-specific paths are hidden by the
// scenarios themselves, and so are values that are legitimately implementation-defined
// (e.g. where a received typed array sits in its ArrayBuffer).
//
//   node --test --test-concurrency=1 __test__/differential.test.js
//   RUST_CLUSTER_DIFF=builtin,builtin node --test ...   # check a scenario's determinism
//   RUST_CLUSTER_DIFF_ONLY=messaging,errors node --test ...   # run only some scenarios
//
// Then every scenario again with Node 22 and with Node 24 as the primary (and so the
// workers): both implementations on that node, its built-in the reference (the brief:
// where Node's docs are silent, match what the running Node does). The binaries come from
// helpers/node-versions.js; a node that cannot be had is skipped with the reason.
//
// Scenarios are deterministic by construction: they wait on events, never on time,
// listen on port 0, and each run ends with every process gone.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { cleanupAll } = require('./helpers/run.js');
const { runScenario, group, normalize, differences } = require('./helpers/differential.js');
const { OTHER_MAJORS, nodeBinary } = require('./helpers/node-versions.js');

const [REFERENCE, CANDIDATE] = (process.env.RUST_CLUSTER_DIFF ?? 'builtin,rust').split(',');
const ONLY = process.env.RUST_CLUSTER_DIFF_ONLY?.split(',');
const DIFF_LIMIT = Number(process.env.RUST_CLUSTER_DIFF_LIMIT ?? 12);

after(cleanupAll);

/**
 * Run `name` with both implementations (on the node `execPath`, default this one) and
 * compare; `check` sanity-checks the reference log.
 */
async function differential(name, check, execPath) {
  const [ref, cand] = await Promise.all([
    runScenario(name, REFERENCE, { execPath }),
    runScenario(name, CANDIDATE, { execPath }),
  ]);
  const expected = normalize(group(ref.events));
  const actual = normalize(group(cand.events));
  // The reference run itself must have completed; otherwise the scenario is broken.
  const done = ref.events.some((e) => e.src === 'P' && e.ev === 'done');
  assert.ok(done, `the ${REFERENCE} run did not finish:\n${ref.output}`);
  if (check) check(expected, ref);
  const diffs = differences(expected, actual, { limit: DIFF_LIMIT, names: [REFERENCE, CANDIDATE] });
  const problems = [];
  if (cand.status.code !== ref.status.code || cand.status.signal !== ref.status.signal) {
    problems.push(`primary exit: ${REFERENCE} ${JSON.stringify(ref.status)}, ${CANDIDATE} ${JSON.stringify(cand.status)}`);
  }
  if (cand.leftover !== ref.leftover) {
    problems.push(`processes left after the primary exited: ${REFERENCE} ${ref.leftover}, ${CANDIDATE} ${cand.leftover}`);
  }
  if (diffs.length || problems.length) {
    assert.fail(`${name}: ${CANDIDATE} differs from ${REFERENCE}\n${[...problems, ...diffs].join('\n')}\n` +
      `--- ${CANDIDATE} output (stderr included) ---\n${cand.output.split('\n').filter((l) => !l.startsWith('{"src":')).slice(-40).join('\n')}`);
  }
  assert.deepStrictEqual(actual, expected);
}

const scenarios = [];

function scenario(name, check) {
  scenarios.push([name, check]);
  test(name, { skip: ONLY && !ONLY.includes(name), timeout: 60_000 }, () => differential(name, check));
}

/** The events of a group with the given name. */
const evs = (log, key, ev) => (log[key] ?? []).filter((e) => e.ev === ev);

scenario('lifecycle', (log) => {
  for (const w of ['P/w1', 'P/w2']) {
    assert.deepEqual(log[w].map((e) => e.ev).filter((e) => !e.startsWith('w.') && e !== 'process.exit'),
      ['fork', 'online', 'listening', 'disconnect', 'exit'], w);
  }
});

scenario('messaging', (log) => {
  assert.equal(evs(log, 'P/w1', 'recv').length, evs(log, 'W1', 'recv').length);
  assert.ok(evs(log, 'P/w2', 'recv').length > 50);
});

scenario('ports', (log) => {
  assert.equal(evs(log, 'P', 'shared-port')[0].same, true);
  assert.equal(evs(log, 'P', 'answered')[0].count, 20);
  assert.equal(evs(log, 'P/w1', 'answered-own').length, evs(log, 'P', 'v6')[0].v6 ? 3 : 2);
});

scenario('exits', (log) => {
  const expected = {
    exit0: [0, null],
    exit7: [7, null],
    throw: [1, null],
    exitCode3: [0, null],
    kill: [null, 'SIGTERM'],
    killSIGKILL: [null, 'SIGKILL'],
    processSIGINT: [null, 'SIGINT'],
    destroySIGHUP: [null, 'SIGHUP'],
    selfSIGHUP: [null, 'SIGHUP'],
    selfSIGTERM: [null, 'SIGTERM'],
  };
  const seen = {};
  for (const [key, events] of Object.entries(log)) {
    if (!key.endsWith('/~end')) continue;
    for (const e of events.filter((x) => x.ev === 'exit')) seen[e.mode] = [e.code, e.signal];
  }
  assert.deepEqual(seen, expected);
});

scenario('disconnect', (log) => {
  assert.deepEqual(evs(log, 'P', 'phase').map((e) => e.name), ['phaseA', 'phaseB', 'phaseC', 'phaseD', 'phaseE', 'phaseF']);
  assert.equal(evs(log, 'P', 'disconnect-cb').length, 3);
  assert.equal(evs(log, 'P/w4', 'held-response')[0].body, 'held');
});

scenario('errors', (log) => {
  assert.deepEqual(evs(log, 'P', 'phase').map((e) => e.name), ['phaseA', 'phaseB', 'phaseC', 'phaseD', 'phaseE', 'phaseF']);
  assert.equal(evs(log, 'P', 'bad-fork').filter((e) => e.result.threw).length, 19);
});

// The same scenarios with Node 22 and 24 as the primary.
for (const major of OTHER_MAJORS) {
  for (const [name, check] of scenarios) {
    test(`[Node ${major}] ${name}`, { skip: ONLY && !ONLY.includes(name), timeout: 400_000 }, async (t) => {
      const node = await nodeBinary(t, major);
      if (node.skip) {
        t.skip(node.skip);
        return;
      }
      await differential(name, check, node.execPath);
    });
  }
}
