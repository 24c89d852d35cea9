'use strict';
// A primary is freed with its JavaScript environment. A worker thread that loads the
// module makes a primary of its own (ava runs every test file that way); when the thread
// ends with workers still running, its primary must end with it, as Node's does: the
// workers' channels close (a Node worker then leaves by itself, exit code 0), a worker
// that cannot leave is SIGKILLed after a grace, and every one is reaped. The process gets
// back every thread and descriptor the primary took.
//
// Node's built-in, for comparison: its workers leave too and threads and descriptors
// come back, but nobody reaps the workers (they stay zombies until the process exits),
// and a stuck worker is left running for good.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { processCounts } = require('./runners/fixtures/lifecycle');
const { processState: stateOf } = require('./helpers/processes.js');

const THREAD = path.join(__dirname, 'fixtures', 'environments', 'thread-primary.js');

/** R, S, Z... from /proc/<pid>/stat, or 'gone'. */
const processState = (pid) => stateOf(pid) ?? 'gone';

function nextMessage(thread) {
  return new Promise((resolve) => thread.once('message', resolve));
}

/** Runs one primary in a worker thread and ends the thread with its workers running. */
async function primaryInThread({ impl, end, hang = false }) {
  const thread = new Worker(THREAD, { workerData: { impl, hang } });
  const exited = new Promise((resolve, reject) => {
    thread.once('exit', resolve);
    thread.once('error', reject);
  });
  const pids = await nextMessage(thread);
  if (hang) assert.strictEqual(await nextMessage(thread), 'hanging');
  if (end === 'terminate') await thread.terminate();
  else thread.postMessage('exit');
  await exited;
  return pids;
}

/** Waits (on /proc) until every pid is in `state`; the built-in's workers leave on their own time. */
async function untilState(pids, state) {
  const deadline = Date.now() + 20_000;
  while (!pids.every((pid) => processState(pid) === state)) {
    if (Date.now() > deadline) assert.fail(`pids ${pids} never reached ${state}: ${pids.map(processState)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const end of ['exit', 'terminate']) {
  test(`rust-cluster: a worker thread's primary ends with it (${end}): workers gone and reaped, threads and descriptors back`, async () => {
    // The first primary of a process starts the process-wide spawner thread and watchdog.
    await primaryInThread({ impl: 'rust', end });
    const before = processCounts();
    for (let i = 0; i < 5; i++) {
      const pids = await primaryInThread({ impl: 'rust', end });
      // Already reaped when the thread's 'exit' is emitted: no zombie, nothing running.
      assert.deepStrictEqual(pids.map(processState), ['gone', 'gone']);
      assert.deepStrictEqual(processCounts(), before);
    }
  });
}

test('rust-cluster: workers whose event loop is stuck are SIGKILLed after the grace and reaped', async () => {
  const pids = await primaryInThread({ impl: 'rust', end: 'exit', hang: true });
  assert.deepStrictEqual(pids.map(processState), ['gone', 'gone']);
});

test("Node's built-in: its workers leave but stay zombies; threads and descriptors come back", async () => {
  await primaryInThread({ impl: 'builtin', end: 'exit' });
  const before = processCounts();
  for (const end of ['exit', 'terminate']) {
    const pids = await primaryInThread({ impl: 'builtin', end });
    await untilState(pids, 'Z');
    assert.deepStrictEqual(processCounts(), before);
  }
});

test("Node's built-in: a stuck worker is left running", async () => {
  const pids = await primaryInThread({ impl: 'builtin', end: 'exit', hang: true });
  try {
    assert.deepStrictEqual(pids.map(processState), ['R', 'R']);
  } finally {
    for (const pid of pids) process.kill(pid, 'SIGKILL');
  }
});
