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
    assert.deepStrictEqual(served, { ev: 'served', workers: 1 }, 'sticky: one client address, one worker');
    assert.strictEqual((await proc.exited).code, 0);
  });
}
