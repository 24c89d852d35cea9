'use strict';
// NODE_DEBUG=cluster / RUST_CLUSTER_DEBUG=1 trace the protocol per worker; off, nothing.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { start } = require('./helpers/run');

const script = path.join(__dirname, 'fixtures/one-worker.js');

for (const env of [{ NODE_DEBUG: 'cluster' }, { RUST_CLUSTER_DEBUG: '1' }]) {
  test(`${Object.keys(env)[0]} traces what the primary sends and receives`, async (t) => {
    const proc = start(script, { env });
    t.after(() => proc.cleanup());
    const { code } = await proc.exited;
    assert.strictEqual(code, 0);
    const trace = proc.lines.filter((l) => /^CLUSTER \d+: worker 1 /.test(l));
    const has = (re) => assert.ok(trace.some((l) => re.test(l)), `no ${re} in:\n${trace.join('\n')}`);
    has(/worker 1 -> .*"act":"online"/);
    has(/worker 1 -> .*"act":"queryServer"/);
    has(/worker 1 <- .*"ack":/);
    has(/worker 1 -> "hello"/);
    has(/worker 1 <- .*"act":"disconnect"/);
    has(/worker 1 exited .*code: Some\(0\)/);
  });
}

test('without it, nothing is traced', async (t) => {
  const proc = start(script, { env: { NODE_DEBUG: '', RUST_CLUSTER_DEBUG: '' } });
  t.after(() => proc.cleanup());
  const { code } = await proc.exited;
  assert.strictEqual(code, 0);
  assert.deepStrictEqual(proc.lines.filter((l) => l.startsWith('CLUSTER ')), []);
});
