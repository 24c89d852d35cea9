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

test('reuseport: the kernel balances; an orphaned socket is served, then taken over', async (t) => {
  const proc = start(path.join(__dirname, 'fixtures/reuseport.js'));
  t.after(() => proc.cleanup());
  const phase = async (name) => JSON.parse((await proc.waitFor(new RegExp(`"phase":"${name}"`), { timeout: 60000 })).line).served;
  const balance = await phase('balance');
  assert.deepStrictEqual(Object.keys(balance).sort(), ['1', '2']);
  assert.ok(Math.max(...Object.values(balance)) <= 150, `one worker served ${JSON.stringify(balance)}`);
  // Every connection made while worker 1 was stuck and then killed got an answer, from
  // worker 2: those queued on worker 1's socket were accepted by the primary.
  assert.deepStrictEqual(await phase('orphan'), { 2: 40 });
  const takeover = await phase('takeover');
  assert.deepStrictEqual(Object.keys(takeover).sort(), ['2', '3']);
  const { code } = await proc.exited;
  assert.strictEqual(code, 0);
  assert.ok(!proc.lines.some((l) => l.includes('ports differ')), proc.lines.join('\n'));
});
