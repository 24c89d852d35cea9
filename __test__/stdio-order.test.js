'use strict';
// A silent worker's output ends before its 'exit', as Node's primary reads it: a user
// who collects a worker's output in 'exit' has all of it.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { start } = require('./helpers/run');

for (const impl of ['rust', 'builtin']) {
  test(`[${impl}] silent: true: stdout 'end' comes before 'exit', every lifetime`, async (t) => {
    const proc = start(path.join(__dirname, 'fixtures', 'stdio-order.js'), { impl });
    t.after(() => proc.cleanup());
    const { line } = await proc.waitFor(/^\{"lifetimes"/, 60000);
    assert.doesNotMatch(proc.output(), /^bad worker/m);
    assert.deepStrictEqual(JSON.parse(line), { lifetimes: 60, exitFirst: 0 });
  });
}
