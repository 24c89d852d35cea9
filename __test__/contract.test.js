'use strict';
// The event contract between the Rust binding and the facade is defined once, in Rust
// (src/delivery.rs EVENT_LAYOUT; `cargo test` checks the kind numbers against it), and
// read by lib/native_primary.js when the addon loads. This pins the JavaScript side to
// it: every kind the binding can send is handled (lib/event_routing.js, then
// worker.process), every kind the facade handles exists, and every field the layout fills
// is a field of the facade's events (lib/native_events.js).
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { eventLayout } = require('../lib/native_primary');
const { NativeEvent } = require('../lib/native_events');

const lib = (name) => fs.readFileSync(path.join(__dirname, '..', 'lib', name), 'utf8');

/** The kinds a source handles: `event.kind === 'x'` tests and `case 'x':` in the dispatch. */
function handledKinds() {
  const kinds = new Set();
  for (const m of lib('event_routing.js').matchAll(/event\.kind === '(\w+)'/g)) kinds.add(m[1]);
  const source = lib('worker_process.js');
  const dispatch = source.slice(source.indexOf('_onNativeEvent(event) {'));
  const body = dispatch.slice(0, dispatch.indexOf('\n  }\n'));
  for (const m of body.matchAll(/case '(\w+)':/g)) kinds.add(m[1]);
  return [...kinds].sort();
}

test('every event kind the binding sends is handled by the facade, and no other', () => {
  const layout = eventLayout();
  assert.strictEqual(layout.cellsPerEvent, 5);
  assert.deepStrictEqual(handledKinds(), [...layout.kinds].sort());
});

test('every field the layout fills is a field of the facade events', () => {
  const layout = eventLayout();
  const fields = Object.keys(new NativeEvent());
  for (const name of [...layout.a, ...layout.b].filter((n) => n != null)) {
    assert.ok(fields.includes(name), `${name} is not a field of NativeEvent`);
  }
  assert.strictEqual(layout.kinds.length, layout.a.length);
  assert.strictEqual(layout.kinds.length, layout.b.length);
});

test('the binding refuses a policy, serialization or stdio name it does not know, instead of defaulting', () => {
  const binding = require('../lib/binding');
  const primary = new binding.NativePrimary(() => {}, true);
  try {
    assert.throws(() => primary.configure({ policy: 'nonsense' }), /does not match any variant of enum `PolicyName`/);
    const request = (fields) => ({
      id: 1, execPath: process.execPath, args: ['-e', ''], env: [], stdio: ['ignore', 'ignore', 'inherit'],
      channelFd: 3, serialization: 'json', ...fields,
    });
    assert.throws(() => primary.spawn(request({ serialization: 'xml' })), /SerializationName/);
    assert.throws(() => primary.spawn(request({ stdio: ['ignore', 'pipe', 'nonsense'] })), /StdioName|Either|number/);
  } finally {
    primary.shutdown();
  }
});

// The send outcome (src/lib.rs send_outcome, decoded in lib/worker_process.js _send): a
// negative errno, or the bytes still queued for the worker, 0 when the frame is written.
test('the send outcome is the bytes still queued: 0 when written, and a write event for the rest', async () => {
  const binding = require('../lib/binding');
  const layout = binding.eventLayout();
  const written = [];
  let wake = null;
  const primary = new binding.NativePrimary((cells) => {
    for (let i = 0; i < cells.length; i += layout.cellsPerEvent) {
      if (layout.kinds[cells[i]] === 'written') written.push(cells[i + 3]);
    }
    if (wake) wake();
  }, true);
  try {
    // A "worker" that reads its channel only once told to on stdin.
    const spawned = primary.spawn({
      id: 1, execPath: '/bin/sh', args: ['-c', 'read go; exec cat <&3 >/dev/null'], env: [],
      stdio: ['pipe', 'ignore', 'inherit'], channelFd: 3, serialization: 'json',
    });
    assert.strictEqual(spawned.errno, 0);
    const send = (text, writeId) => binding.sendString(primary.index, 1, text, writeId);
    assert.strictEqual(send('{"first":1}\n', 1), 0, 'an idle channel takes a small frame at once');
    const line = `"${'x'.repeat(64 * 1024 - 3)}"\n`;
    let queued = 0;
    let writeId = 1;
    while (queued === 0) {
      queued = send(line, ++writeId);
      assert.ok(queued >= 0 && writeId < 1000, `outcome ${queued}`);
    }
    // Nobody reads: each further frame adds exactly its bytes.
    assert.strictEqual(send(line, ++writeId), queued + line.length);
    assert.strictEqual(send('{"last":1}\n', ++writeId), queued + line.length + 11);
    assert.deepStrictEqual(written, [], 'a frame written at once has no write event');
    // The reader drains the channel: the queued frames' write events come, the last one's too.
    const lastId = writeId;
    const allWritten = new Promise((resolve) => { wake = () => written.includes(lastId) && resolve(); });
    fs.writeSync(spawned.stdio[0], 'go\n');
    await allWritten;
    assert.ok(!written.includes(1), 'the first frame was reported by the outcome, not by an event');
    assert.deepStrictEqual([...written].sort((a, b) => a - b), written, 'in order');
    fs.closeSync(spawned.stdio[0]);
  } finally {
    primary.shutdown();
  }
});

// The same on the facade, beside Node's own cluster (the fixture's header says how):
// send() false under backpressure, the callback of a frame written at once running while
// the worker cannot read, the others after, in order; and frames of both serializations
// decoded by what the core says they are, with a worker of each at once.
test('send() and its callback under backpressure, and typed frames of both serializations, as Node', async (t) => {
  const { start } = require('./helpers/run');
  const os = require('node:os');
  const crypto = require('node:crypto');
  const outcome = async (impl) => {
    const marker = path.join(os.tmpdir(), `rc-send-outcome-${crypto.randomBytes(6).toString('hex')}`);
    t.after(() => {
      for (const mode of ['json', 'advanced']) fs.rmSync(`${marker}.${mode}`, { force: true });
    });
    const proc = start(path.join(__dirname, 'fixtures', 'send-outcome.js'), { impl, env: { MARKER: marker } });
    t.after(() => proc.cleanup());
    const { line } = await proc.waitFor(/^\{"ev":"result"/, { timeout: 30000 });
    return JSON.parse(line).results;
  };
  const rust = await outcome('rust');
  const builtin = await outcome('builtin');
  t.diagnostic(JSON.stringify(rust.map((r) => [r.mode, r.sentBeforeFalse, r.callbacksWhileBlocked])));
  const exact = (results) => results.map(({ sentBeforeFalse, callbacksWhileBlocked, sent, written, received, ...rest }) => rest);
  assert.deepStrictEqual(exact(rust), exact(builtin));
  for (const [i, r] of rust.entries()) {
    assert.ok(r.sentBeforeFalse > 1 && r.firstCallbackWhileBlocked, JSON.stringify(r));
    assert.ok(r.callbacksWhileBlocked >= 1 && r.callbacksWhileBlocked < r.sent, JSON.stringify(r));
    assert.ok(r.sent === r.written && r.sent === r.received && r.inOrder && r.outOfOrder === 0, JSON.stringify(r));
    // The point where send() says "stop" is Node's (the same socket buffers, the same
    // 128 KiB threshold), give or take a frame.
    assert.ok(Math.abs(r.sentBeforeFalse - builtin[i].sentBeforeFalse) <= 2, `${r.sentBeforeFalse} vs ${builtin[i].sentBeforeFalse}`);
  }
  assert.deepStrictEqual(rust[1].types, { map: 'Map', big: 'BigInt', bytes: 'Buffer', date: 'Date', text: 'String' });
  assert.deepStrictEqual(rust[0].sample, { text: 'é\u2028\ud83d\ude00', n: 1.5, list: [null, true] });
});

// The primary's settings cross as one object (src/settings.rs PrimarySettings), checked in
// one place: a wrong type or a value the core cannot take is an error, nothing is applied
// and nothing is defaulted. (The facade checks what users pass first, with Node's errors.)
test('the binding refuses a bad settings object with a clear error, and applies none of it', () => {
  const binding = require('../lib/binding');
  const primary = new binding.NativePrimary(() => {}, true);
  const restart = { delay: 100, maxDelay: 10000, factor: 2, jitter: 0, stableAfter: 30000, maxRestarts: 10, window: 60000 };
  const health = {
    heartbeatInterval: 1000, heartbeatTimeout: 10000, evidenceSignal: 10, evidenceGrace: 500,
    memoryMetric: 'rss', sampleInterval: 1000, recycleJitter: 0,
  };
  const outOfRange = (name, range, received) => ({
    name: 'RangeError', code: 'ERR_OUT_OF_RANGE',
    message: `The value of "settings.${name}" is out of range. It must be ${range}. Received ${received}`,
  });
  try {
    // Good ones, whole or in part; `restart: null` turns restarts off.
    primary.configure({ policy: 'sticky', nodeMajor: 22, maxFrameBytes: 4096, restart, readinessGate: true, health });
    primary.configure({});
    primary.configure({ restart: null, readinessGate: false });

    // Out of range: Node's class, code and message.
    assert.throws(() => primary.configure({ maxFrameBytes: 0 }), outOfRange('maxFrameBytes', 'an integer >= 1', 0));
    assert.throws(() => primary.configure({ maxFrameBytes: NaN }), outOfRange('maxFrameBytes', 'an integer >= 1', 'NaN'));
    assert.throws(() => primary.configure({ maxFrameBytes: -1 }), outOfRange('maxFrameBytes', 'an integer >= 1', -1));
    assert.throws(() => primary.configure({ nodeMajor: -1 }), outOfRange('nodeMajor', 'an integer >= 1', -1));
    assert.throws(() => primary.configure({ restart: { ...restart, factor: 0.5 } }),
      outOfRange('restart.factor', '>= 1 and finite', 0.5));
    assert.throws(() => primary.configure({ restart: { ...restart, jitter: 2 } }),
      outOfRange('restart.jitter', '>= 0 and <= 1', 2));
    assert.throws(() => primary.configure({ restart: { ...restart, maxRestarts: -1 } }),
      outOfRange('restart.maxRestarts', 'an integer >= 0', -1));
    assert.throws(() => primary.configure({ health: { ...health, heartbeatTimeout: 500 } }),
      outOfRange('health.heartbeatTimeout', '> settings.health.heartbeatInterval', 500));
    assert.throws(() => primary.configure({ health: { ...health, sampleInterval: Infinity } }),
      outOfRange('health.sampleInterval', '> 0 and finite', 'Infinity'));
    assert.throws(() => primary.configure({ health: { ...health, heartbeatTimeout: undefined } }), {
      name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE',
      message: "The property 'settings.health.heartbeatTimeout' must be set with the other heartbeat setting. Received undefined",
    });

    // The wrong type, a name it does not know, a missing key: napi-rs refuses it, naming the field.
    assert.throws(() => primary.configure({ maxFrameBytes: '4096' }), /PrimarySettings\.maxFrameBytes/);
    assert.throws(() => primary.configure({ maxFrameBytes: null }), /PrimarySettings\.maxFrameBytes/);
    assert.throws(() => primary.configure({ readinessGate: 1 }), /PrimarySettings\.readinessGate/);
    assert.throws(() => primary.configure({ restart: true }), /PrimarySettings\.restart/);
    assert.throws(() => primary.configure({ restart: { delay: 100 } }), /PrimarySettings\.restart/);
    assert.throws(() => primary.configure({ health: { ...health, memoryMetric: 'vsz' } }), /MemoryMetricName/);
    assert.throws(() => primary.configure({ health: { ...health, evidenceGrace: undefined } }), /evidenceGrace/);
    assert.throws(() => primary.configure(null), TypeError);
    assert.throws(() => primary.configure(), TypeError);

    // All or none: the whole object is checked before any of it is applied (see configure
    // in src/lib.rs), so the policy here is refused with the frame limit.
    assert.throws(() => primary.configure({ policy: 'none', maxFrameBytes: 0 }), { code: 'ERR_OUT_OF_RANGE' });
  } finally {
    primary.shutdown();
  }
  // Ended, it still checks (and applies to nothing).
  assert.throws(() => primary.configure({ maxFrameBytes: 0 }), { code: 'ERR_OUT_OF_RANGE' });
  primary.configure({ maxFrameBytes: 1 });
});
