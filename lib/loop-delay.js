'use strict';
// A worker's event-loop delay, measured once for whichever of our preloads needs it (the
// heartbeat's lib/heartbeat-preload.js, the metrics' lib/metrics-preload.js): one
// perf_hooks.monitorEventLoopDelay histogram per worker, and a view for each consumer,
// which reads and resets its own window without disturbing the other's. Each read folds
// what the histogram recorded since the last read (of anyone) into every view and resets
// it; a view keeps the count, sum and max of its window, so its mean and max are exactly
// those of a histogram of its own reset at its reads.
//
// The histogram samples at the finest resolution asked for (a monitor's recorded delays
// include its resolution: with both preloads, the metrics' mean is sampled at the
// heartbeat's resolution).
const { monitorEventLoopDelay } = require('perf_hooks');

let histogram = null;
let resolution = Infinity;
const views = new Set();

/** Moves what the histogram recorded into every view (nanoseconds), and resets it. */
function fold() {
  if (histogram === null || histogram.count === 0) return;
  const { count, max } = histogram;
  const sum = histogram.mean * count;
  for (const view of views) {
    view.count += count;
    view.sum += sum;
    if (max > view.max) view.max = max;
  }
  histogram.reset();
}

/**
 * A view of the worker's event-loop delay sampled every `ms` milliseconds or finer.
 * `take()` returns { count, mean, max } (ns; mean NaN and max 0 with no sample) since the
 * view's previous take (or its creation), and starts a new window.
 */
function view(ms) {
  if (ms < resolution) {
    // Started anew at the finer resolution (at startup: both preloads ask at once).
    fold();
    if (histogram !== null) histogram.disable();
    resolution = ms;
    histogram = monitorEventLoopDelay({ resolution });
    histogram.enable();
  }
  // Its window starts now: what was recorded before goes to the views already there.
  fold();
  const own = { count: 0, sum: 0, max: 0 };
  views.add(own);
  return {
    take() {
      fold();
      const window = { count: own.count, mean: own.count > 0 ? own.sum / own.count : NaN, max: own.max };
      own.count = 0;
      own.sum = 0;
      own.max = 0;
      return window;
    },
  };
}

module.exports = { view };
