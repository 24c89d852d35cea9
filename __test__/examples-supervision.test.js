'use strict';
// The built-in versions of the guide's patterns (examples/supervision/), run as real
// processes: restart limits, graceful restart, health, load-based scaling.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { start, get } = require('./helpers/run');
const { load } = require('./helpers/load');

function run(t, script, env = {}) {
  const proc = start(path.join('examples', 'supervision', script), { env: { PORT: 0, ...env } });
  t.after(() => proc.cleanup());
  return proc;
}

const LISTENING = /^Worker (\d+) \(pid (\d+)\) listening on port (\d+)$/;

test('restart-limits: the crashing worker is replaced with backoff, then its slot gives up; the healthy one is untouched', async (t) => {
  const p = run(t, 'restart-limits.js');
  await p.waitFor(/^Giving up on worker \d+'s slot: 4 crashes within 60000 ms$/, { timeout: 60000 });
  const restarts = p.grep(/^Worker (\d+) replaces worker (\d+) \(attempt (\d+), after (\d+) ms\)$/);
  assert.deepEqual(restarts.map((r) => [Number(r.match[3]), Number(r.match[4])]), [[1, 100], [2, 200], [3, 400]]);
  assert.equal(p.grep(/^Worker 2 exited/).length, 0);
});

test('graceful-restart: SIGUSR2 replaces every worker under load with no failed request; SIGTERM exits 0', async (t) => {
  const p = run(t, 'graceful-restart.js', { WORKERS: 2 });
  const initial = await p.waitForCount(LISTENING, 2);
  const port = Number(initial[0].match[3]);
  const gen = load({ port, concurrency: 4 });
  await gen.completed(200);
  p.kill('SIGUSR2');
  await p.waitFor(/^All workers restarted: 1 -> 3, 2 -> 4$/, { timeout: 60000 });
  await gen.completed(gen.stats.ok + gen.stats.failed + 200);
  const stats = await gen.stop();
  assert.equal(stats.failed, 0, JSON.stringify(stats.errors));
  assert.match((await get(port)).body, /^Worker [34]\n$/);
  p.kill('SIGTERM');
  assert.deepEqual(await p.waitForExit({ timeout: 10000 }), { code: 0, signal: null });
  await p.waitForNoProcesses();
});

test('health: a worker is ready when it says so; one that never does is killed at the startup timeout, then given up', async (t) => {
  const p = run(t, 'health.js', { STUCK_SECOND_WORKER: 1, STARTUP_TIMEOUT_MS: 2000 });
  await p.waitFor(/^Giving up on worker \d+'s slot$/, { timeout: 60000 });
  const ready = p.grep(/^Worker (\d+) is ready$/).map((h) => Number(h.match[1]));
  assert.deepEqual(ready, [1]);
  assert.equal(p.grep(/exited \(signal: SIGKILL\)$/).length, 3);
  assert.equal(p.grep(/^Worker 1 exited/).length, 0);
});

test('scaling: under high reported load the primary scales up to MAX_WORKERS', async (t) => {
  const p = run(t, 'scaling.js', { LOAD: 1, CHECK_MS: 200, MIN_WORKERS: 1, MAX_WORKERS: 3 });
  await p.waitFor('Average load 1.00: scaling to 2 workers', { timeout: 30000 });
  await p.waitFor('Scaled: 3 workers', { timeout: 30000 });
  assert.equal(p.workers().length, 3);
});
