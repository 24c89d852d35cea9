'use strict';
// Node's permission model and the worker: a primary run with the model's flags forks a
// worker whose execArgv lacks them (and, for comparison, one with the primary's execArgv
// and one with flags of its own). Node 22 and later copy the primary's flags to the
// worker's NODE_OPTIONS; Node 20 does not. On this Node and on Node 22 and 24 as the
// primary, what the worker sees (process.permission, has(), NODE_OPTIONS) must be what it
// sees under the built-in cluster. A Node that cannot be had is skipped with the reason.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { start, cleanupAll } = require('./helpers/run.js');
const { OTHER_MAJORS, nodeBinary } = require('./helpers/node-versions.js');

after(cleanupAll);

const FIXTURE = path.join(__dirname, 'fixtures', 'permission.js');
const THIS_MAJOR = Number(process.versions.node.split('.')[0]);
// Node 20 calls the model experimental; rust-cluster's primary loads an addon.
const enable = (major) => (major >= 22 ? '--permission' : '--experimental-permission');
const primaryFlags = (major) => [enable(major), '--allow-fs-read=*', '--allow-child-process', '--allow-addons'];

/** The worker's permission state, as one run of the fixture prints it. */
async function workerState(t, impl, execPath, flags, execArgv) {
  const proc = start(FIXTURE, {
    impl,
    execPath,
    nodeArgs: flags,
    env: { NODE_OPTIONS: undefined, EXEC_ARGV: execArgv === undefined ? undefined : JSON.stringify(execArgv) },
  });
  t.after(() => proc.cleanup());
  const { line } = await proc.waitFor(/^\{"ev":"worker"/);
  assert.equal((await proc.exited).code, 0, proc.output());
  return JSON.parse(line);
}

for (const major of [THIS_MAJOR, ...OTHER_MAJORS]) {
  test(`Node ${major}: a worker is under the permission model exactly when the built-in's is`, async (t) => {
    const node = await nodeBinary(t, major);
    if (node.skip) return t.skip(node.skip);
    const flags = primaryFlags(major);
    const cases = {
      "the primary's execArgv": undefined,
      'no flags (only a copy can give it the model)': [],
      'flags of its own (nothing copied)': [enable(major), '--allow-fs-read=*'],
    };
    for (const [name, execArgv] of Object.entries(cases)) {
      await t.test(name, async (t) => {
        const [builtin, rust] = await Promise.all([
          workerState(t, 'builtin', node.execPath, flags, execArgv),
          workerState(t, 'rust', node.execPath, flags, execArgv),
        ]);
        assert.deepEqual(rust, builtin);
        if (Array.isArray(execArgv) && execArgv.length === 0) {
          // The line's own rule, so the comparison is not between two that copy nothing.
          assert.equal(builtin.permission, major >= 22, `Node ${major} ${major >= 22 ? 'copies' : 'does not copy'} the flags`);
          if (major >= 22) assert.equal(builtin.nodeOptions, flags.join(' '));
        }
      });
    }
  });
}

/** What fork() did in a primary under the model without --allow-child-process. */
async function refusal(t, impl, execPath, flags) {
  const proc = start(FIXTURE, { impl, execPath, nodeArgs: flags, env: { NODE_OPTIONS: undefined, EXPECT_REFUSAL: '1' } });
  t.after(() => proc.cleanup());
  const { line } = await proc.waitFor(/^\{"ev":"refusal"/);
  const { line: workers } = await proc.waitFor(/^\{"ev":"workers"/);
  assert.equal((await proc.exited).code, 0, proc.output());
  return { ...JSON.parse(line), workers: JSON.parse(workers).count };
}

for (const major of [THIS_MAJOR, ...OTHER_MAJORS]) {
  test(`Node ${major}: without --allow-child-process fork() throws Node's own ERR_ACCESS_DENIED`, async (t) => {
    const node = await nodeBinary(t, major);
    if (node.skip) return t.skip(node.skip);
    const flags = [enable(major), '--allow-fs-read=*', '--allow-addons'];
    const [builtin, rust] = await Promise.all([
      refusal(t, 'builtin', node.execPath, flags),
      refusal(t, 'rust', node.execPath, flags),
    ]);
    assert.equal(builtin.threw, true, JSON.stringify(builtin));
    assert.equal(builtin.code, 'ERR_ACCESS_DENIED');
    assert.deepEqual(rust, builtin);
  });
}
