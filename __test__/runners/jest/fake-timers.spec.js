'use strict';
// A user's test of their cluster code under jest's fake timers, which replace the test
// file's process.nextTick, setImmediate, queueMicrotask and timers. Node's cluster keeps
// delivering its events under them; so must rust-cluster.
const cluster = require('rust-cluster');
const { oneWorkerLife, checkLife } = require('../fixtures/lifecycle');

describe.each([
  ['real timers', () => jest.useRealTimers()],
  ['modern fake timers (the default: everything faked)', () => jest.useFakeTimers()],
  ['modern fake timers, doNotFake nothing', () => jest.useFakeTimers({ doNotFake: [] })],
  ['legacy fake timers', () => jest.useFakeTimers({ legacyFakeTimers: true })],
])('%s', (name, install) => {
  afterEach(() => jest.useRealTimers());

  test('fork, online, listening, a message round trip, disconnect and exit arrive in Node\'s order', async () => {
    install();
    expect(checkLife(await oneWorkerLife(cluster))).toEqual([]);
  });
});
