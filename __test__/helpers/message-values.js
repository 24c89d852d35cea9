'use strict';
// Message payloads for the messaging scenario (../scenarios/messaging.js). Built fresh on every call, identically in
// the primary and in the workers.

/** Top-level messages for the JSON channel (what JSON loses is part of the comparison). */
function jsonValues() {
  return [
    'plain',
    '',
    'emoji \u{1F600} astral \u{1D11E} \u{2070E} flag \u{1F1E9}\u{1F1EA}',
    'lone high \ud800 end',
    'lone low \udc00 end',
    'reversed pair \udc00\ud800',
    '\ud83d',
    'nul \u0000 inside \u0000',
    'controls \u0001\u001f\u007f\u0085',
    'separators \u2028\u2029',
    'newline\nquote"backslash\\tab\tcr\r',
    'bom \ufeff nonchar \uffff',
    '{"cmd":"NODE_CLUSTER","act":"online"}',
    'x'.repeat(5000),
    42,
    0,
    -0,
    -1.5,
    1e308,
    5e-324,
    2 ** 53 + 1,
    NaN,
    Infinity,
    true,
    false,
    null,
    [],
    {},
    [1, 'a', null, [2, [3, [4, [5]]]], { b: true }],
    { a: { b: { c: [1, { d: 'e' }] } }, u: undefined, f() {}, s: Symbol('s'), n: null },
    { 'key with \u{1F600}': '\ud800', '': 'empty key', '\u0000': 'nul key' },
    { toJSON() { return { replaced: true }; } },
    new Date(0),
    [undefined, () => {}, Symbol('x')],
    { cmd: 'NODE_' },
    { cmd: 'NODE' },
    { cmd: 42 },
    { cmd: 'NODE_USER_DEFINED', note: 'internal prefix: not a message event' },
    { cmd: 'NODE_CLUSTER', act: 'bogus-from-test' },
    { cmd: 'NODE_CLUSTER', act: 'online' },
    'after internal-looking messages',
  ];
}

class Point {
  constructor() {
    this.x = 1;
    this.y = [2];
  }
}

/** Extra top-level messages for the advanced (V8) channel. */
function advancedValues() {
  const circular = { name: 'circular' };
  circular.self = circular;
  circular.list = [circular, { back: circular }];
  const shared = { shared: true };
  const ab = new ArrayBuffer(16);
  new Uint8Array(ab).set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
  sparse[10] = 'ten';
  const withProps = [1, 2];
  withProps.extra = 'prop';
  return [
    ...jsonValues().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v) || v.constructor === Object)
      .filter((v) => !(v && typeof v === 'object' && ('f' in v || 'toJSON' in v)))
      .filter((v) => !Array.isArray(v) || !v.some((x) => typeof x === 'function' || typeof x === 'symbol')),
    new Map([[1, 'one'], ['k', { x: 1 }], [{ objKey: true }, new Set([1])]]),
    new Set([1, '2', { three: 3 }, [4]]),
    new Date(0),
    new Date(8.64e15),
    new Date(NaN),
    [123n, -(2n ** 70n)],
    { big: 2n ** 64n },
    Buffer.from('h\u00e9llo \u{1F600}'),
    Buffer.alloc(0),
    new Uint8Array([1, 2, 3]),
    new Uint8ClampedArray([255, 0]),
    new Int8Array([-1, 127]),
    new Uint16Array([65535]),
    new Int16Array([-2]),
    new Uint32Array([4294967295]),
    new Int32Array([-1, 2]),
    new Float32Array([1.5, -0]),
    new Float64Array([1.5, -0, NaN, Infinity]),
    new BigInt64Array([1n, -1n]),
    new BigUint64Array([2n ** 64n - 1n]),
    new Uint8Array(ab, 3, 5),
    new DataView(ab, 2, 4),
    ab,
    Buffer.from(ab, 4, 4),
    { a: undefined, b: [undefined, null], c: { d: undefined } },
    [undefined],
    sparse,
    withProps,
    /re[g]ex/gimsuy,
    new Error('boom'),
    new TypeError('typed'),
    Object.assign(new RangeError('with props'), { code: 'E_TEST', extra: 1 }),
    circular,
    { one: shared, two: shared },
    new Point(),
    Object.create(null, { nullProto: { value: 1, enumerable: true } }),
    new Number(7),
    new String('boxed'),
    new Boolean(false),
    { nested: { map: new Map([['s', new Set([new Date(1), 1n, new Uint8Array([9])])]]), arr: [new Map(), new Set()] } },
    NaN,
    -0,
    -Infinity,
    'after advanced values',
  ];
}

/** About 1 MiB of text with multi-byte characters, NULs and lone surrogates mixed in. */
function bigString(seed) {
  const unit = `${seed}:abc\u00e9\u{1F600}\u0000\n"\\\ud800|`;
  return unit.repeat(Math.ceil((1 << 20) / unit.length)).slice(0, 1 << 20);
}

/** Values a primary must refuse to send (or cannot encode), per serialization. */
function unsendable(mode) {
  const cyclic = {};
  cyclic.self = cyclic;
  const list = [
    ['undefined', undefined],
    ['symbol', Symbol('nope')],
    ['anonymous function', () => {}],
    ['named function', function named() {}],
    ['bigint', 10n],
  ];
  if (mode === 'json') {
    list.push(['nested bigint', { n: 1n }], ['cyclic', cyclic]);
  } else {
    list.push(['nested function', { f() {} }], ['nested symbol', { s: Symbol('s') }],
      ['promise', Promise.resolve(1)], ['weakmap', new WeakMap()]);
  }
  return list;
}

module.exports = { jsonValues, advancedValues, bigString, unsendable };
