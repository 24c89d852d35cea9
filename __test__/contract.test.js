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
    assert.throws(() => primary.setPolicy('nonsense'), /does not match any variant of enum `PolicyName`/);
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
