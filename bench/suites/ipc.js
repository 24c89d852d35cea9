'use strict';
// 2. ipc: message passing between the primary and its workers.
const path = require('node:path');
const { runScenario } = require('../lib/proc');

const SCRIPT = path.join(__dirname, '..', 'scenarios', 'ipc.js');

const CASES = [
  { mode: 'pingpong', name: 'ipc ping-pong, 1 worker', key: 'perSecond', label: 'round trips/s', unit: 'round trip' },
  { mode: 'pingpong-http', name: 'ipc ping-pong, 1 HTTP worker after 20 rr connections', key: 'perSecond', label: 'round trips/s', unit: 'round trip' },
  { mode: 'oneway', name: 'ipc one-way small, worker->primary', key: 'perSecond', label: 'messages/s', unit: 'message' },
  { mode: 'bulk', name: 'ipc 64 KiB strings, worker->primary', key: 'mbPerSecond', label: 'MB/s', unit: 'message' },
  { mode: 'broadcast', name: 'ipc broadcast to 4 workers + acks', key: 'perSecond', label: 'broadcasts/s', unit: 'broadcast' },
];

module.exports = {
  name: 'ipc',
  cases() {
    return CASES.map(({ mode, name, key, label, unit }) => ({
      name,
      impls: ['builtin', 'rust'],
      metrics: [
        { key, label, better: 'higher' },
        // The primary's own cost: on a many-core host, what one primary can carry.
        { key: 'cpuUs', label: `primary CPU µs per ${unit}`, better: 'lower' },
      ],
      run: (impl) => runScenario(SCRIPT, { impl, env: { BENCH_MODE: mode }, stdin: 'ignore', timeout: 90000 }),
    }));
  },
};
