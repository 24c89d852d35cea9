'use strict';
// The binding's event batches, decoded by the layout the binding gives: each event
// becomes one small plain object, of one shape for every kind.

// A batch arrives as one flat array of cells, `cellsPerEvent` per event: [kind, worker,
// payload, a, b]. What each kind's `a` and `b` are is the binding's one definition
// (src/delivery.rs EVENT_LAYOUT), read when the addon loads.

// Every event has the same fields, in the same order (one hidden class), so the code that
// reads them stays monomorphic and V8 does not keep re-optimizing it. The fields are those
// the layout names, plus the payload as `text` (a string: JSON, or another kind's text)
// or `bytes` (a Buffer: a V8-serialized frame), as the binding typed it.
function NativeEvent(kind, worker, payload) {
  this.kind = kind;
  this.worker = worker;
  this.text = typeof payload === 'string' ? payload : undefined;
  this.bytes = typeof payload === 'string' ? undefined : payload;
  this.act = undefined;
  this.fd = undefined;
  this.handleType = undefined;
  this.code = undefined;
  this.signal = undefined;
  this.writeId = undefined;
  this.server = undefined;
}

/** The layout the binding gives, checked against the fields events have. */
function readLayout(given) {
  const fields = new Set(Object.keys(new NativeEvent()));
  for (const name of [...given.a, ...given.b]) {
    if (name != null && !fields.has(name)) {
      throw new Error(`rust-cluster: the addon names an event field this facade lacks: ${name} (rebuild the addon)`);
    }
  }
  return given;
}

/** The event whose cells start at `i`. */
function decode(layout, cells, i) {
  const number = cells[i];
  const event = new NativeEvent(layout.kinds[number], cells[i + 1], cells[i + 2]);
  const a = layout.a[number];
  const b = layout.b[number];
  if (a != null) event[a] = cells[i + 3];
  if (b != null) event[b] = cells[i + 4];
  return event;
}

module.exports = { NativeEvent, readLayout, decode };
