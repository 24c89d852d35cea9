'use strict';
// A silent worker's output ends before its 'exit', as Node's primary usually reads it: a
// user who collects a worker's output in 'exit' has all of it. rust-cluster makes it so
// every time; Node's built-in allows the other order and now and then gives it (3 of 60
// lifetimes in one loaded run), so its count is reported, not asserted.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { start } = require('./helpers/run');

async function lifetimes(t, impl) {
  const proc = start(path.join(__dirname, 'fixtures', 'stdio-order.js'), { impl });
  t.after(() => proc.cleanup());
  const { line } = await proc.waitFor(/^\{"lifetimes"/, 60000);
  assert.doesNotMatch(proc.output(), /^bad worker/m);
  return JSON.parse(line);
}

test("[rust] silent: true: stdout 'end' comes before 'exit', every lifetime", async (t) => {
  assert.deepStrictEqual(await lifetimes(t, 'rust'), { lifetimes: 60, exitFirst: 0 });
});

test("[builtin] silent: true: the same 60 lifetimes, for comparison", async (t) => {
  const result = await lifetimes(t, 'builtin');
  assert.strictEqual(result.lifetimes, 60);
  t.diagnostic(`built-in: 'exit' before stdout's 'end' in ${result.exitFirst} of 60 lifetimes`);
});
