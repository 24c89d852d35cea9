'use strict';
// Supervision (issue 13) with real workers: restarts with backoff and give-up, which exits
// are replaced, stops with a deadline that fire while the primary's JavaScript is busy,
// shutdown() against a never-ending response (and Node's built-in disconnect() hanging on
// it), and shutdownSignals.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { start } = require('./helpers/run');

const fixture = (name) => path.join(__dirname, 'fixtures/supervision', name);
const events = (proc, name) => proc.jsonLines().filter((e) => e.event === name);

test('a worker that throws at start restarts at delay × factor^n (capped), then gives up; the primary idles meanwhile', async (t) => {
  const proc = start(fixture('restarts.js'));
  t.after(() => proc.cleanup());
  await proc.waitFor(/"event":"giveup"/, { timeout: 60000 });
  const exits = events(proc, 'exit');
  const restarts = events(proc, 'restart');
  const [giveup] = events(proc, 'giveup');
  // maxRestarts 5: five restarts, and the sixth unexpected exit gives up.
  assert.strictEqual(restarts.length, 5);
  assert.strictEqual(exits.length, 6);
  assert.deepStrictEqual({ restarts: giveup.restarts, window: giveup.window }, { restarts: 6, window: 60000 });
  const expected = [100, 200, 400, 400, 400]; // delay 100, factor 2, maxDelay 400, jitter 0
  restarts.forEach((r, i) => {
    assert.strictEqual(r.attempt, i + 1);
    assert.strictEqual(r.delay, expected[i]);
    assert.strictEqual(r.old, exits[i].id);
    assert.strictEqual(r.code, 1);
    // Measured from the exit event to the replacement's fork: never early, and not late
    // by more than a loaded machine's scheduling.
    const measured = r.t - exits[i].t;
    assert.ok(measured >= expected[i] - 2, `restart ${i + 1} after ${measured} ms, expected ${expected[i]}`);
    assert.ok(measured <= expected[i] + 1000, `restart ${i + 1} after ${measured} ms, expected ${expected[i]}`);
  });
  // No polling or busy waiting between restarts: the primary's CPU time is a small part
  // of the ~2 s it waited (forking six workers included).
  assert.ok(giveup.cpuMs < giveup.wallMs / 2, `primary used ${giveup.cpuMs} ms of CPU in ${giveup.wallMs} ms`);
  const { code } = await proc.waitForExit();
  assert.strictEqual(code, 0);
});

test('a worker SIGKILLed from outside is replaced; one that was disconnect()ed, kill()ed or disconnected itself is not', async (t) => {
  const proc = start(fixture('stops.js'));
  t.after(() => proc.cleanup());
  const { pids } = JSON.parse((await proc.waitFor(/"event":"pids"/)).line);
  process.kill(pids[0], 'SIGKILL');
  await proc.waitFor(/"event":"done"/);
  const restarts = events(proc, 'restart');
  assert.deepStrictEqual(restarts.map((r) => [r.old, r.id]), [[1, 5]]);
  assert.deepStrictEqual({ signal: restarts[0].signal, code: restarts[0].code, attempt: restarts[0].attempt },
    { signal: 'SIGKILL', code: null, attempt: 1 });
  const exits = Object.fromEntries(events(proc, 'exit').map((e) => [e.id, e]));
  assert.strictEqual(exits[2].exitedAfterDisconnect, true);
  assert.strictEqual(exits[3].signal, 'SIGTERM');
  assert.strictEqual(exits[4].exitedAfterDisconnect, true);
  assert.deepStrictEqual(events(proc, 'settled')[0].ids, [5]);
  await proc.waitForNoProcesses();
});

test('disconnect({ timeout }) kills from the core while the primary\'s JavaScript is busy', async (t) => {
  const proc = start(fixture('deadline.js'));
  t.after(() => proc.cleanup());
  const exit = JSON.parse((await proc.waitFor(/"event":"exit"/)).line);
  assert.deepStrictEqual({ signal: exit.signal, exitedAfterDisconnect: exit.exitedAfterDisconnect },
    { signal: 'SIGKILL', exitedAfterDisconnect: true });
  const [busyStart] = events(proc, 'busy-start');
  const [busyEnd] = events(proc, 'busy-end');
  const ticks = events(proc, 'tick');
  assert.ok(ticks.length > 0);
  // The worker printed its ticks straight to the test every 20 ms until it died: it died
  // about 200 ms into the primary's 3 s busy loop, not when the loop ended.
  const lastTick = ticks[ticks.length - 1].t;
  assert.ok(busyEnd.t - busyStart.t >= 3000);
  assert.ok(lastTick < busyStart.t + 1500, `the worker ticked until ${lastTick - busyStart.t} ms into the busy loop`);
  await proc.waitForNoProcesses();
});

test('shutdown() ends a never-ending streaming response within the deadline; the built-in disconnect() still waits', async (t) => {
  const TIMEOUT = 500;
  const ours = start(fixture('shutdown.js'), { env: { TIMEOUT } });
  const builtin = start(fixture('shutdown.js'), { impl: 'builtin', env: { TIMEOUT } });
  t.after(() => Promise.all([ours.cleanup(), builtin.cleanup()]));
  const [oursStopping, builtinStopping] = await Promise.all([
    ours.waitFor(/"event":"stopping"/), builtin.waitFor(/"event":"stopping"/)]);
  const stoppedAt = Date.now();
  const done = JSON.parse((await ours.waitFor(/"event":"done"/, { timeout: TIMEOUT + 1000 })).line);
  assert.ok(done.ms <= TIMEOUT + 1000, `shutdown took ${done.ms} ms`);
  assert.strictEqual(events(ours, 'exit')[0].signal, 'SIGKILL');
  await ours.waitForNoProcesses({ timeout: 1000 });
  // Node's built-in: after the same deadline + 1 s, its disconnect() has not finished and
  // the worker is still alive (nodejs/node#2642).
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, stoppedAt + TIMEOUT + 1000 - Date.now())));
  assert.strictEqual(builtin.grep(/"event":"done"/).length, 0);
  assert.strictEqual(builtin.workers().length, 1);
  assert.ok(oursStopping && builtinStopping);
});

test('shutdownSignals: SIGTERM shuts down and exits 0 within the deadline; a second SIGTERM ends it at once with 1', async (t) => {
  const first = start(fixture('shutdown.js'), { env: { SIGNALS: 1, TIMEOUT: 500 } });
  const twice = start(fixture('shutdown.js'), { env: { SIGNALS: 1, TIMEOUT: 60000 } });
  t.after(() => Promise.all([first.cleanup(), twice.cleanup()]));
  await Promise.all([first.waitFor(/"event":"streaming"/), twice.waitFor(/"event":"streaming"/)]);
  first.kill('SIGTERM');
  const signalled = Date.now();
  assert.deepStrictEqual(await first.waitForExit({ timeout: 1500 }), { code: 0, signal: null });
  assert.ok(Date.now() - signalled <= 1500);
  await first.waitForNoProcesses({ timeout: 1000 });

  twice.kill('SIGTERM');
  await twice.waitFor(/"event":"sigterm"/);
  // The worker holds its response for the 60 s deadline; the second signal does not wait.
  assert.strictEqual(twice.child.exitCode, null, 'exited on the first SIGTERM');
  const from = twice.lines.length;
  twice.kill('SIGTERM');
  await twice.waitFor(/"event":"sigterm"/, { from }).catch(() => {});
  assert.deepStrictEqual(await twice.waitForExit({ timeout: 5000 }), { code: 1, signal: null });
  await twice.waitForNoProcesses({ timeout: 2000 });
});

for (const policy of ['rr', 'sticky']) {
  test(`readyOn 'message' (${policy}): a worker that listens before it says 'ready' gets no connection before`, async (t) => {
    const proc = start(fixture('ready.js'), { env: { POLICY: policy } });
    t.after(() => proc.cleanup());
    const results = JSON.parse((await proc.waitFor(/"event":"results"/)).line);
    assert.deepStrictEqual({ failed: results.failed, beforeReady: results.beforeReady }, { failed: 0, beforeReady: 0 });
    const [listening] = events(proc, 'listening');
    const [saying] = events(proc, 'saying-ready');
    const served = events(proc, 'served');
    // The client connected from the moment the worker listened (every 20 ms, for 800 ms):
    // those connections waited in the kernel's backlog and were served once it was ready.
    assert.ok(served.length >= 20, `${served.length} served`);
    assert.ok(saying.t - listening.t >= 700);
    for (const s of served) assert.ok(s.t >= saying.t, `served ${saying.t - s.t} ms before it said 'ready'`);
    // The 'ready' message is still a message.
    assert.deepStrictEqual(events(proc, 'message').map((m) => m.message), ['ready']);
    assert.strictEqual(events(proc, 'ready').length, 1);
    assert.strictEqual((await proc.waitForExit()).code, 0);
  });
}

for (const readyOn of ['online', 'listening']) {
  test(`readyOn '${readyOn}': the worker is ready at its first '${readyOn}'`, async (t) => {
    const proc = start(fixture('ready.js'), { env: { READY_ON: readyOn } });
    t.after(() => proc.cleanup());
    await proc.waitFor(/"event":"results"/);
    const order = proc.jsonLines().filter((e) => ['online', 'primary-listening', 'ready'].includes(e.event)).map((e) => e.event);
    const expected = readyOn === 'online' ? ['online', 'ready', 'primary-listening'] : ['online', 'primary-listening', 'ready'];
    assert.deepStrictEqual(order, expected);
  });
}

test('startupTimeout kills a worker that never says ready; the kills count toward maxRestarts', async (t) => {
  const proc = start(fixture('ready.js'), { env: { MODE: 'never' } });
  t.after(() => proc.cleanup());
  const giveup = JSON.parse((await proc.waitFor(/"event":"giveup"/)).line);
  assert.deepStrictEqual({ restarts: giveup.restarts, id: giveup.id }, { restarts: 3, id: 3 });
  const exits = events(proc, 'exit');
  assert.deepStrictEqual(exits.map((e) => e.signal), ['SIGKILL', 'SIGKILL', 'SIGKILL']);
  const forks = events(proc, 'fork');
  // Each was killed by its startup timeout (300 ms) after it was forked, not never (on a
  // loaded machine it may not even have listened by then).
  exits.forEach((e, i) => assert.ok(e.t - forks[i].t >= 300 && e.t - forks[i].t < 3000, JSON.stringify([forks[i], e])));
  assert.strictEqual(events(proc, 'ready').length, 0);
  assert.strictEqual((await proc.waitForExit()).code, 0);
  await proc.waitForNoProcesses();
});

test('bad supervision values give Node-style errors, and good ones show in cluster.settings', async (t) => {
  const proc = start(fixture('validation.js'));
  t.after(() => proc.cleanup());
  const { results, settings } = JSON.parse((await proc.waitFor(/"results"/)).line);
  const range = 'RangeError ERR_OUT_OF_RANGE';
  const type = 'TypeError ERR_INVALID_ARG_TYPE';
  assert.deepStrictEqual(results, {
    negativeDelay: range,
    nanWindow: range,
    stringDelay: type,
    restartString: type,
    jitterAboveOne: range,
    factorBelowOne: range,
    fractionalMaxRestarts: range,
    readyOnX: 'TypeError ERR_INVALID_ARG_VALUE',
    negativeStartup: range,
    unknownShutdownSignal: 'TypeError ERR_UNKNOWN_SIGNAL',
    shutdownSignalsString: type,
    unknownReloadSignal: 'TypeError ERR_UNKNOWN_SIGNAL',
    scaleNegative: range,
    scaleFraction: range,
    scaleString: type,
    disconnectTimeoutNegative: range,
    shutdownTimeoutString: type,
    reloadConcurrencyZero: range,
    reloadOptionsNumber: type,
  });
  assert.deepStrictEqual(settings, {
    restart: { delay: 50 }, readyOn: 'online', shutdownTimeout: 1000, shutdownSignals: ['SIGTERM'], reloadSignal: 'SIGHUP',
  });
  assert.strictEqual((await proc.waitForExit()).code, 0);
});

test('cluster.disconnect({ timeout }, callback): the callback runs, and workers still alive at the deadline are SIGKILLed', async (t) => {
  const proc = start(fixture('cluster-disconnect.js'));
  t.after(() => proc.cleanup());
  await proc.waitForCount(/"event":"exit"/, 2);
  const [disconnecting] = events(proc, 'disconnecting');
  const exits = events(proc, 'exit');
  assert.strictEqual(events(proc, 'callback').length, 1);
  for (const e of exits) {
    assert.deepStrictEqual({ signal: e.signal, exitedAfterDisconnect: e.exitedAfterDisconnect }, { signal: 'SIGKILL', exitedAfterDisconnect: true });
    assert.ok(e.t - disconnecting.t >= 300, `killed ${e.t - disconnecting.t} ms after disconnect`);
  }
  await proc.waitForNoProcesses();
});
