'use strict';
// rust-cluster's heartbeat, preloaded (`--require`) into each worker when the primary's
// `heartbeat` setting is on; nothing of the user's code is involved. Every `interval` ms
// it sends the primary an internal message (a NODE_ command, so it never reaches a
// 'message' listener) carrying the worst event-loop delay since the last beat. A worker
// whose loop is blocked sends nothing, which is what the primary watches for. The delay is
// the worker's one measurement (lib/loop-delay.js), shared with the metrics' preload.
const loopDelay = require('./loop-delay');

const ENV = 'RUST_CLUSTER_HEARTBEAT_INTERVAL';
const interval = Number(process.env[ENV]);
// Not the user's business, and not for the worker's own children.
delete process.env[ENV];

if (typeof process.send === 'function' && Number.isFinite(interval) && interval > 0) {
  // The stuck worker's stack is taken through the inspector, which SIGUSR1 opens: on a
  // port of its own (0: any free one), unless the user chose one.
  if (!process.execArgv.some((arg) => /^--inspect/.test(arg))) process.debugPort = 0;
  const delays = loopDelay.view(Math.max(1, Math.min(10, interval / 10)));
  const beat = () => {
    if (!process.connected) return;
    // max is in ns; 0 until there is a sample.
    const delay = Math.round(delays.take().max / 1e4) / 100;
    try {
      process.send({ cmd: 'NODE_RUST_CLUSTER_HEARTBEAT', delay });
    } catch {
      // The channel closed meanwhile: the worker is on its way out.
    }
  };
  beat();
  setInterval(beat, interval).unref();
}
