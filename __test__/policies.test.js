'use strict';
// rust-cluster's scheduling policies beyond Node's, with real workers and real clients.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { start } = require('./helpers/run');

test('sticky: a client keeps its worker; a restart moves only the dead worker\'s clients', async (t) => {
  const proc = start(path.join(__dirname, 'fixtures/sticky.js'));
  t.after(() => proc.cleanup());
  const before = JSON.parse((await proc.waitFor(/"phase":"before"/, { timeout: 60000 })).line).owners;
  const after = JSON.parse((await proc.waitFor(/"phase":"after"/, { timeout: 60000 })).line).owners;
  const { code } = await proc.exited;
  assert.strictEqual(code, 0);
  for (const [client, workers] of Object.entries(before)) {
    assert.strictEqual(workers.length, 1, `${client} was served by ${workers}`);
    assert.strictEqual(after[client].length, 1, `${client} was served by ${after[client]} after the restart`);
    if (workers[0] !== '1') {
      assert.deepStrictEqual(after[client], workers, `${client} moved although its worker lived`);
    } else {
      assert.notStrictEqual(after[client][0], '1');
    }
  }
  const used = new Set(Object.values(before).map((w) => w[0]));
  assert.ok(used.size >= 2, `12 clients all went to ${[...used]}`);
});
