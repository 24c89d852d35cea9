'use strict';
// Required by the differential scenarios (../scenarios/, run by ../differential.test.js).
//
// Every scenario process (primary and workers) writes its observations as one JSON
// object per line on stdout: {"src":"P"|"W<id>","ev":"<name>",...}. Values that JSON
// cannot carry (undefined, NaN, -0, BigInt, Map, Set, Date, typed arrays, holes,
// cycles, ...) are encoded by `enc` as {"$":"<kind>",...} so both implementations can
// be compared exactly. Lines stay far below PIPE_BUF so processes never interleave
// inside a line.
const cluster = require('rust-cluster');
const crypto = require('crypto');

const src = cluster.isPrimary ? 'P' : `W${cluster.worker.id}`;

function isPlainObject(value) {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A JSON-safe, type-preserving description of `value`. */
function enc(value, seen = new Map(), path = '$') {
  switch (typeof value) {
    case 'undefined': return { $: 'undefined' };
    case 'bigint': return { $: 'bigint', v: value.toString() };
    case 'symbol': return { $: 'symbol', v: value.toString() };
    case 'function': return { $: 'function', name: value.name };
    case 'number':
      if (Number.isNaN(value)) return { $: 'number', v: 'NaN' };
      if (Object.is(value, -0)) return { $: 'number', v: '-0' };
      if (!Number.isFinite(value)) return { $: 'number', v: String(value) };
      return value;
    case 'string':
    case 'boolean':
      return value;
    default:
  }
  if (value === null) return null;
  if (seen.has(value)) return { $: 'ref', to: seen.get(value) };
  seen.set(value, path);
  const sub = (v, key) => enc(v, seen, `${path}.${key}`);
  if (Array.isArray(value)) {
    const out = [];
    for (let i = 0; i < value.length; i++) out.push(i in value ? sub(value[i], i) : { $: 'hole' });
    const extra = Object.keys(value).filter((k) => !/^\d+$/.test(k));
    if (extra.length) return { $: 'Array', items: out, props: Object.fromEntries(extra.map((k) => [k, sub(value[k], k)])) };
    return out;
  }
  if (Buffer.isBuffer(value)) return { $: 'Buffer', hex: value.toString('hex') };
  if (ArrayBuffer.isView(value)) {
    // (Not byteOffset / buffer.byteLength: a received view may sit in any pooled buffer.)
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
    return { $: value.constructor.name, length: value.length, hex: bytes };
  }
  if (value instanceof ArrayBuffer) return { $: 'ArrayBuffer', hex: Buffer.from(value).toString('hex') };
  if (value instanceof Map) return { $: 'Map', entries: [...value].map(([k, v], i) => [sub(k, `k${i}`), sub(v, `v${i}`)]) };
  if (value instanceof Set) return { $: 'Set', values: [...value].map((v, i) => sub(v, i)) };
  if (value instanceof Date) return { $: 'Date', v: Number.isNaN(value.getTime()) ? 'Invalid' : value.toISOString() };
  if (value instanceof RegExp) return { $: 'RegExp', source: value.source, flags: value.flags };
  if (value instanceof Error) {
    return {
      $: 'Error',
      ctor: value.constructor.name,
      name: value.name,
      message: value.message,
      props: Object.fromEntries(Object.keys(value).map((k) => [k, sub(value[k], k)])),
    };
  }
  const props = Object.fromEntries(Object.keys(value).map((k) => [k, sub(value[k], k)]));
  if (isPlainObject(value) && !('$' in value)) return props;
  return { $: 'Object', ctor: value.constructor?.name ?? null, props };
}

/** What a test needs to know about an error, to compare with Node's. */
function errInfo(err) {
  if (!(err instanceof Error)) return { notAnError: err };
  return {
    name: err.name,
    base: [RangeError, TypeError, SyntaxError, Error].find((C) => err instanceof C).name,
    code: err.code,
    message: err.message,
    keys: Object.keys(err).sort(),
    stackHead: typeof err.stack === 'string' ? err.stack.split('\n')[0] : null,
    errno: err.errno,
    syscall: err.syscall,
  };
}

/** Runs fn and returns { returned } or { threw: errInfo }. */
function attempt(fn) {
  try {
    return { returned: fn() };
  } catch (err) {
    return { threw: errInfo(err) };
  }
}

function log(ev, fields = {}) {
  const out = { src, ev };
  for (const [key, value] of Object.entries(fields)) out[key] = enc(value);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function sha(value) {
  return crypto.createHash('sha256').update(typeof value === 'string' ? value : Buffer.from(value)).digest('hex').slice(0, 16);
}

/** Bookkeeping the primary shows at each event of a worker. */
function snap(worker) {
  return {
    worker: worker.id,
    state: worker.state,
    exitedAfterDisconnect: worker.exitedAfterDisconnect,
    connected: worker.isConnected(),
    dead: worker.isDead(),
    listed: cluster.workers[worker.id] === worker,
  };
}

module.exports = { cluster, src, enc, errInfo, attempt, log, sha, snap };
