'use strict';
// rust-cluster's own settings: a bad value is an ERR_INVALID_ARG_VALUE that changes
// nothing, and the corrected call is the one that takes effect.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { start } = require('./helpers/run');

for (const CASE of ['option', 'property']) {
  test(`a bad scheduling policy (${CASE}) is refused before anything is applied; the retry takes effect`, async (t) => {
    const proc = start(path.join(__dirname, 'fixtures', 'settings-validation.js'), { env: { CASE } });
    t.after(() => proc.cleanup());
    await proc.waitFor(/"served"/);
    const [refused, policy, served] = proc.jsonLines();
    assert.strictEqual(refused.ev, 'refused');
    assert.strictEqual(refused.name, 'TypeError');
    assert.strictEqual(refused.code, 'ERR_INVALID_ARG_VALUE');
    assert.match(refused.message, CASE === 'option' ? /'options\.schedulingPolicy'.*Received 'nonsense'/ : /'cluster\.schedulingPolicy'.*Received 99/);
    assert.deepStrictEqual(refused.settings, {}, 'the refused call applied nothing');
    assert.deepStrictEqual(policy, { ev: 'policy', policy: 4, exec: true });
    assert.deepStrictEqual(served, { ev: 'served', answered: 6, workers: 1 }, 'sticky: one client address, one worker');
    assert.strictEqual((await proc.exited).code, 0);
  });
}

test('the settings outlive the native primary: after it ends with the last worker, the next one gets them all', async (t) => {
  const proc = start(path.join(__dirname, 'fixtures', 'settings-survive.js'));
  t.after(() => proc.cleanup());
  await proc.waitFor(/"served"/);
  assert.strictEqual((await proc.exited).code, 0);
  const lines = proc.jsonLines();
  const round2 = lines.findIndex((l) => l.ev === 'round2');
  assert.ok(round2 > 0, 'round 2 ran');
  const [before, after] = [lines.slice(0, round2), lines.slice(round2 + 1)];
  const firstConfigure = (part) => part.find((l) => l.ev === 'configure').keys;
  // Round 1's primary started before the restart and frame settings existed; they reached
  // it as changes. It ended with its last worker.
  assert.deepStrictEqual(firstConfigure(before), ['health', 'nodeMajor', 'policy']);
  assert.ok(before.some((l) => l.ev === 'configure' && l.keys.includes('restart')), 'restart set on the live primary');
  assert.strictEqual(before.filter((l) => l.ev === 'shutdown').length, 1, 'the first native primary ended');
  // The next one is given every setting at its start...
  assert.deepStrictEqual(firstConfigure(after), ['health', 'maxFrameBytes', 'nodeMajor', 'policy', 'restart']);
  const events = after.filter((l) => l.ev !== 'configure');
  const find = (ev, fields = {}) => events.findIndex((l) => l.ev === ev && Object.entries(fields).every(([k, v]) => l[k] === v));
  // ...and they apply: the frame limit kills the worker that sends 4096 bytes (no message
  // arrives), the restart policy restarts it once (maxRestarts: 1) and gives up,
  assert.strictEqual(find('message'), -1, 'no message over maxMessageBytes arrived');
  const order = [find('exit', { id: 2, signal: 'SIGKILL' }), find('restart', { id: 3, old: 2 }),
    find('exit', { id: 3, signal: 'SIGKILL' }), find('giveup')];
  assert.ok(order.every((i, n) => i >= 0 && (n === 0 || i > order[n - 1])), JSON.stringify(events));
  assert.strictEqual(events.filter((l) => l.ev === 'restart').length, 1);
  // the heartbeat finds the stuck worker, and sticky sends one address to one worker.
  assert.ok(find('unresponsive') > find('giveup'), JSON.stringify(events));
  assert.deepStrictEqual(events[find('served')], { ev: 'served', answered: 6, workers: 1 });
  assert.strictEqual(events.filter((l) => l.ev === 'shutdown').length, 1, 'the second ended with its workers');
});
