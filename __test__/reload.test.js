'use strict';
// cluster.reload() under load, with real workers and a load generator on loopback: rolling,
// surge-first replacement loses no request under every policy, never has fewer ready
// workers than it started with, and a reload whose new code fails leaves the old workers
// serving. With keep-alive clients it is compared with Node's built-in running the user's
// guide's hand-written graceful restart, in the same run.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { start } = require('./helpers/run');
const { load } = require('./helpers/load');

const fixture = (name) => path.join(__dirname, 'fixtures/supervision', name);

/** Starts `script`, loads it with `concurrency` clients, sends `signal` after `before`
 * answers, waits for `doneLine`, goes on for `after` more answers; returns the counts. */
async function reloadUnderLoad(t, script, { env = {}, impl, keepAlive = false, signal = 'SIGUSR2', doneLine = /"event":"reload"/, before = 300, after = 300 }) {
  const proc = start(fixture(script), { env, impl });
  t.after(() => proc.cleanup());
  const { port, ids } = JSON.parse((await proc.waitFor(/"event":"port"/, { timeout: 60000 })).line);
  const gen = load({ port, concurrency: 8, keepAlive });
  await gen.completed(before);
  proc.kill(signal);
  const done = JSON.parse((await proc.waitFor(doneLine, { timeout: 90000 })).line);
  const servedBefore = { ...gen.stats.byWorker };
  await gen.completed(gen.stats.ok + gen.stats.failed + after);
  const stats = await gen.stop();
  const servedAfter = Object.fromEntries(Object.entries(stats.byWorker)
    .map(([id, n]) => [id, n - (servedBefore[id] || 0)]).filter(([, n]) => n > 0));
  return { proc, ids, done, stats, servedAfter };
}

for (const policy of ['rr', 'sticky', 'reuseport', 'none']) {
  test(`reload() of 4 HTTP workers under new-connection-per-request load (${policy}): no failed request, all replaced, never fewer than 4 ready`, async (t) => {
    const { done, stats, ids, servedAfter } = await reloadUnderLoad(t, 'reload.js', { env: { POLICY: policy } });
    t.diagnostic(`${policy}: ${stats.ok} answered, ${stats.failed} failed ${JSON.stringify(stats.errors)}`);
    assert.strictEqual(stats.failed, 0, JSON.stringify(stats.errors));
    assert.deepStrictEqual(done.replaced.map(([old]) => old), ids);
    const fresh = done.replaced.map(([, id]) => id);
    assert.strictEqual(new Set([...fresh, ...ids]).size, 8, JSON.stringify(done.replaced));
    assert.ok(done.minReady >= 4, `only ${done.minReady} ready workers at some point`);
    assert.strictEqual(done.ready, 4);
    // After the reload only the new workers answer, but for the few requests that were in
    // flight on the last old worker (at most one per client).
    const late = Object.entries(servedAfter).filter(([id]) => !fresh.includes(Number(id)));
    assert.ok(late.reduce((sum, [, n]) => sum + n, 0) <= 8, `old workers served after the reload: ${JSON.stringify(late)}`);
  });
}

test('reload({ concurrency: 2 }) replaces two at a time under load with no failed request; a second reload() returns the running one', async (t) => {
  const { proc, done, stats, ids } = await reloadUnderLoad(t, 'reload.js', { env: { POLICY: 'rr', CONCURRENCY: 2 } });
  assert.strictEqual(stats.failed, 0, JSON.stringify(stats.errors));
  assert.deepStrictEqual(done.replaced.map(([old]) => old), ids);
  assert.ok(done.minReady >= 4);
  assert.strictEqual(JSON.parse(proc.grep(/"event":"same-promise"/)[0].line).same, true);
  // Two at a time: worker 6 was forked before worker 5 was ready, and 8 before 7 was.
  const at = (event, id) => proc.jsonLines().findIndex((e) => e.event === event && e.id === id);
  assert.ok(at('fork', 6) < at('ready', 5), 'the second replacement waited for the first');
  assert.ok(at('fork', 8) < at('ready', 7));
  assert.ok(at('fork', 7) > at('ready', 6), 'the second group started before the first was ready');
});

test('a reload whose new code throws at start leaves the old workers serving, loses no request, and rejects', async (t) => {
  const { proc, done, stats, ids, servedAfter } = await reloadUnderLoad(t, 'reload.js', {
    env: { POLICY: 'rr', FAIL_AT_START: 1 }, signal: 'SIGHUP', doneLine: /"event":"reload-failed"/,
  });
  assert.strictEqual(stats.failed, 0, JSON.stringify(stats.errors));
  assert.strictEqual(done.code, 'ERR_CLUSTER_RELOAD_FAILED');
  assert.strictEqual(done.worker, 5);
  assert.deepStrictEqual(done.ids, ids);
  assert.ok(done.minReady >= 4);
  assert.deepStrictEqual(Object.keys(servedAfter).map(Number).sort(), ids);
  // The failed replacement is not restarted.
  assert.strictEqual(proc.grep(/"event":"exit"/).length, 1);
});

test('a reload whose new code never gets ready within reload({ timeout }) is stopped there, the old workers serving', async (t) => {
  const { proc, done, stats, ids, servedAfter } = await reloadUnderLoad(t, 'reload.js', {
    env: { POLICY: 'rr', FAIL_AT_START: 'hang' }, signal: 'SIGHUP', doneLine: /"event":"reload-failed"/,
  });
  assert.strictEqual(stats.failed, 0, JSON.stringify(stats.errors));
  assert.strictEqual(done.code, 'ERR_CLUSTER_RELOAD_FAILED');
  assert.match(done.message, /worker 5 was not ready within 800 ms/);
  assert.deepStrictEqual(done.ids, ids);
  assert.deepStrictEqual(Object.keys(servedAfter).map(Number).sort(), ids);
  // The replacement was killed, and not restarted.
  const exit = JSON.parse((await proc.waitFor(/"event":"exit"/)).line);
  assert.deepStrictEqual({ id: exit.id, signal: exit.signal }, { id: 5, signal: 'SIGKILL' });
  assert.strictEqual(proc.grep(/"event":"fork"/).filter((l) => !/"id":[1-5]}/.test(l.line)).length, 0);
});

test('reload() with keep-alive clients fails no more requests than the built-in with the guide\'s hand-written graceful restart', async (t) => {
  const ours = await reloadUnderLoad(t, 'reload.js', { env: { POLICY: 'rr' }, keepAlive: true, before: 2000, after: 2000 });
  const builtin = await reloadUnderLoad(t, 'guide-reload.js', { impl: 'builtin', keepAlive: true, before: 2000, after: 2000 });
  t.diagnostic(`keep-alive, 8 clients: rust-cluster reload(): ${ours.stats.failed} failed of ${ours.stats.ok + ours.stats.failed} ${JSON.stringify(ours.stats.errors)}; ` +
    `built-in + guide's graceful restart: ${builtin.stats.failed} failed of ${builtin.stats.ok + builtin.stats.failed} ${JSON.stringify(builtin.stats.errors)}`);
  assert.ok(ours.stats.failed <= builtin.stats.failed, `ours ${ours.stats.failed} > built-in ${builtin.stats.failed}`);
  assert.ok(ours.done.minReady >= 4);
});

test('scale(1) → scale(4) → scale(2) under load: no failed request, and each step ends with n ready workers', async (t) => {
  const proc = start(fixture('scale.js'));
  t.after(() => proc.cleanup());
  const { port, alive } = JSON.parse((await proc.waitFor(/"event":"port"/)).line);
  assert.strictEqual(alive, 1);
  const gen = load({ port, concurrency: 8 });
  await gen.completed(300);
  proc.kill('SIGUSR2');
  const up = JSON.parse((await proc.waitFor(/"event":"scaled-4"/)).line);
  await gen.completed(gen.stats.ok + gen.stats.failed + 300);
  proc.kill('SIGUSR2');
  const down = JSON.parse((await proc.waitFor(/"event":"scaled-2"/)).line);
  await gen.completed(gen.stats.ok + gen.stats.failed + 300);
  const stats = await gen.stop();
  t.diagnostic(`scale under load: ${stats.ok} answered, ${stats.failed} failed, by worker ${JSON.stringify(stats.byWorker)}`);
  assert.strictEqual(stats.failed, 0, JSON.stringify(stats.errors));
  assert.deepStrictEqual({ alive: up.alive, ready: up.ready }, { alive: 4, ready: 4 });
  // Newest first: workers 3 and 4 (the last forked) were retired.
  assert.deepStrictEqual({ alive: down.alive, ready: down.ready, ids: down.ids }, { alive: 2, ready: 2, ids: [1, 2] });
  assert.strictEqual(proc.grep(/"event":"restart"/).length, 0);
});

test('scale() with restart on keeps n: a crashed worker is replaced, a retired one is not', async (t) => {
  const proc = start(fixture('scale.js'));
  t.after(() => proc.cleanup());
  await proc.waitFor(/"event":"port"/);
  proc.kill('SIGUSR2');
  const up = JSON.parse((await proc.waitFor(/"event":"scaled-4"/)).line);
  process.kill(proc.workers().sort((a, b) => a - b)[0], 'SIGKILL');
  const restart = JSON.parse((await proc.waitFor(/"event":"restart"/)).line);
  assert.strictEqual(restart.signal, 'SIGKILL');
  proc.kill('SIGUSR2');
  const down = JSON.parse((await proc.waitFor(/"event":"scaled-2"/)).line);
  assert.strictEqual(up.alive, 4);
  assert.strictEqual(down.alive, 2);
  // Give a wrong restart of a retired worker time to show (restart delay is 100 ms).
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.strictEqual(proc.workers().length, 2);
});
