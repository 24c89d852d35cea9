'use strict';
// The primary leaves nothing behind: no orphaned worker, no leaked descriptor.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { start, groupMembers, listTagged } = require('./helpers/run');
const { processState, pollUntil } = require('./helpers/processes.js');

const fixture = (name) => path.join(__dirname, 'fixtures', name);

function alive(pid) {
  const state = processState(pid);
  return state !== null && state !== 'Z'; // a zombie has already exited
}

const until = (predicate, what, timeout = 15000, every = 25) => pollUntil(predicate, what, { timeout, every });

test('primary SIGKILLed: every worker goes, even one stuck in an infinite loop', async (t) => {
  const markers = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-orphans-'));
  const proc = start(fixture('orphans.js'), { env: { MODE: 'stuck', MARKER_DIR: markers } });
  t.after(() => { proc.cleanup(); fs.rmSync(markers, { recursive: true, force: true }); });
  const pids = [];
  for (const id of [1, 2]) {
    const { match } = await proc.waitFor(new RegExp(`^online ${id} (\\d+)$`));
    pids.push(Number(match[1]));
  }
  await proc.waitFor(/^stuck 1$/);
  const killedAt = process.hrtime.bigint();
  proc.kill('SIGKILL');
  await until(() => pids.every((pid) => !alive(pid)), 'the workers to go', 15000, 5);
  // The watchdog gives workers 500 ms to go by themselves, then SIGKILLs them.
  const goneMs = Number(process.hrtime.bigint() - killedAt) / 1e6;
  t.diagnostic(`workers gone ${goneMs.toFixed(0)} ms after the primary's SIGKILL`);
  assert.ok(goneMs < 1000, `the workers outlived the primary by ${goneMs.toFixed(0)} ms`);
  // The responsive worker saw its channel close and exited by itself, with code 0.
  assert.strictEqual(fs.readFileSync(path.join(markers, '2'), 'utf8'), 'exit 0');
  // The stuck one never ran its exit handler: it was killed.
  assert.ok(!fs.existsSync(path.join(markers, '1')));
});

test('primary exits normally: workers see the channel close and exit 0, as with Node', async (t) => {
  const markers = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-orphans-'));
  const proc = start(fixture('orphans.js'), { env: { MODE: 'normal', MARKER_DIR: markers } });
  t.after(() => { proc.cleanup(); fs.rmSync(markers, { recursive: true, force: true }); });
  const { code } = await proc.exited;
  assert.strictEqual(code, 0);
  await until(() => ['1', '2'].every((id) => fs.existsSync(path.join(markers, id))), 'both workers to exit');
  assert.strictEqual(fs.readFileSync(path.join(markers, '1'), 'utf8'), 'exit 0');
  assert.strictEqual(fs.readFileSync(path.join(markers, '2'), 'utf8'), 'exit 0');
});

// What test runners, supervisors and `timeout` wait on: the primary's process group
// empties, with no zombie left in it either.
async function groupEmpties(pgid, what) {
  try {
    await until(() => groupMembers(pgid).length === 0, what, 10000);
  } catch (err) {
    err.message += `: ${JSON.stringify(groupMembers(pgid))}`;
    throw err;
  }
}

for (const impl of ['rust', 'builtin']) {
  test(`[${impl}] primary exits normally: nothing is left in its process group, not even a zombie`, async (t) => {
    // The instant the primary is reaped its workers are long gone: whoever waited on the
    // group (test runners, supervisors, \`timeout\`) must find it empty, every time.
    for (let run = 0; run < 5; run++) {
      const proc = start(fixture('exit-clean.js'), { impl, detached: true });
      t.after(() => proc.cleanup());
      await proc.waitFor(/^disconnected$/);
      const { code } = await proc.exited;
      assert.strictEqual(code, 0);
      assert.deepStrictEqual(groupMembers(proc.pid), [], `run ${run}: left in the primary's group`);
      await until(() => listTagged(proc.tag).length === 0, 'the watchdog to end');
    }
  });
}

test('primary SIGKILLed: the watchdog kills the workers, then is gone too', async (t) => {
  const markers = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-orphans-'));
  const proc = start(fixture('orphans.js'), { env: { MODE: 'stuck', MARKER_DIR: markers }, detached: true });
  t.after(() => { proc.cleanup(); fs.rmSync(markers, { recursive: true, force: true }); });
  await proc.waitFor(/^stuck 1$/);
  proc.kill('SIGKILL');
  await proc.exited;
  await groupEmpties(proc.pid, 'the group to empty after the primary was killed');
  // The watchdog (in a session of its own) has done its job and ended.
  await until(() => listTagged(proc.tag).length === 0, 'the watchdog to end');
});

test('a worker inherits nothing of the primary but stdio and its channel', async (t) => {
  const proc = start(fixture('fd-hygiene.js'));
  t.after(() => proc.cleanup());
  const { line } = await proc.waitFor(/"shared"/);
  const report = JSON.parse(line);
  assert.deepStrictEqual(report.shared, [], `inherited: ${JSON.stringify(report.shared)}`);
  assert.match(report.theirs[3], /^socket:/, 'fd 3 is the IPC channel');
  const { code } = await proc.exited;
  assert.strictEqual(code, 0);
});
