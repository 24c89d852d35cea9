'use strict';
// lib/loop-delay.js: one event-loop delay histogram per worker, a window of its own for
// each reader (the heartbeat's and the metrics' preloads): one reader's take() never
// resets the other's, and each window is what a histogram of its own reset at its reads
// would hold.
const test = require('node:test');
const assert = require('node:assert');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const PROBE = path.join(__dirname, '..', 'lib', 'loop-delay.js');

test('two readers of the one histogram each keep their own window', () => {
  // In a child of its own: the probe is per process.
  const script = `
    const { view } = require(${JSON.stringify(PROBE)});
    const metrics = view(20);
    const heartbeat = view(5);
    const block = (ms) => { const until = Date.now() + ms; while (Date.now() < until); };
    const tick = () => new Promise((resolve) => setTimeout(resolve, 100));
    (async () => {
      await tick();
      block(120);
      await tick();
      const beat1 = heartbeat.take();
      await tick();
      const beat2 = heartbeat.take();
      const scrape = metrics.take();
      const late = view(10);
      const empty = late.take();
      await tick();
      console.log(JSON.stringify({ beat1, beat2, scrape, empty: { ...empty, meanIsNaN: Number.isNaN(empty.mean) }, lateCount: late.take().count }));
    })();
  `;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.strictEqual(run.status, 0, run.stderr);
  const { beat1, beat2, scrape, empty, lateCount } = JSON.parse(run.stdout);
  const ms = (ns) => ns / 1e6;
  // The heartbeat's first window holds the 120 ms block; its second does not.
  assert.ok(ms(beat1.max) >= 110, `beat1 ${JSON.stringify(beat1)}`);
  assert.ok(ms(beat2.max) < 100, `beat2 ${JSON.stringify(beat2)}`);
  // The metrics' window spans both beats: the block is still in it, with every sample.
  assert.ok(ms(scrape.max) >= 110, `scrape ${JSON.stringify(scrape)}`);
  assert.ok(scrape.count >= beat1.count + beat2.count, JSON.stringify({ beat1, beat2, scrape }));
  // The finest resolution asked for (5 ms) is the one sampled: 20 ms would give ~15 samples.
  assert.ok(scrape.count > 20, `scrape ${JSON.stringify(scrape)}`);
  // A reader created later sees nothing from before it, then its own samples.
  assert.strictEqual(empty.count, 0);
  assert.ok(empty.meanIsNaN && empty.max === 0, JSON.stringify(empty));
  assert.ok(lateCount > 0);
});
