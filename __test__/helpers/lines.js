'use strict';
// A child's output line by line, and promises that wait for something to turn up in it
// (never a sleep): for the tests' ./run.js and the benchmarks' ../../bench/lib/proc.js.

/**
 * Calls `onLines(lines)` with the complete lines of each chunk of `stream` (when there are
 * any), and once more with its last line if the stream ends without a newline.
 */
function readLines(stream, onLines) {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop();
    if (lines.length > 0) onLines(lines);
  });
  stream.on('end', () => {
    if (!pending) return;
    const last = pending;
    pending = '';
    onLines([last]);
  });
}

/**
 * Waiters on output that grows: `until(check, ...)` resolves with the first truthy
 * result of `check()`, tried now and at every `recheck()`. It rejects with `timedOut()`
 * after `timeout` ms, or with `ended()` once `end()` says nothing more will come.
 */
function waitList() {
  const waiters = new Set();
  let over = false;

  function until(check, { timeout, timedOut, ended }) {
    const result = check();
    if (result) return Promise.resolve(result);
    if (over) return Promise.reject(ended());
    return new Promise((resolve, reject) => {
      const waiter = { check, resolve, reject, ended };
      waiter.timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(timedOut());
      }, timeout);
      waiters.add(waiter);
    });
  }

  function recheck() {
    for (const waiter of waiters) {
      const result = waiter.check();
      if (result) {
        clearTimeout(waiter.timer);
        waiters.delete(waiter);
        waiter.resolve(result);
      }
    }
  }

  /** A last recheck, then every waiter still waiting is rejected. */
  function end() {
    over = true;
    recheck();
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(waiter.ended());
    }
    waiters.clear();
  }

  return { until, recheck, end };
}

module.exports = { readLines, waitList };
