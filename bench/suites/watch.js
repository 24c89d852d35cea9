'use strict';
// 6. watch: what the health watch costs the primary: its CPU with 64 idle workers, with
// nothing on (built-in and rust-cluster), sampled from /proc every second (maxMemory),
// with the heartbeat every second, and with both.
const path = require('node:path');
const { spawn } = require('node:child_process');
const { ROOT, implArgs, taggedEnv } = require('../lib/proc');

const SCENARIO = path.join(__dirname, '..', 'scenarios', 'idle-watch.js');
const WORKERS = Number(process.env.BENCH_WATCH_WORKERS || 64);
const MEASURE = Number(process.env.BENCH_WATCH_SECONDS || 10);

function idleCpu(impl, watch) {
  return new Promise((resolve, reject) => {
    const args = [...implArgs(impl), SCENARIO];
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: taggedEnv('watch', { WORKERS, MEASURE, WATCH: watch }),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => { out += chunk; });
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line) return reject(new Error(`idle-watch ${watch} exited ${code}`));
      resolve(JSON.parse(line));
    });
  });
}

const metric = [{ key: 'cpuPercent', label: `primary CPU % of a core, ${MEASURE} s`, better: 'lower' }];

module.exports = {
  name: 'watch',
  cases() {
    return [
      { name: `${WORKERS} idle workers, nothing watched`, impls: ['builtin', 'rust'], metrics: metric, run: (impl) => idleCpu(impl, 'off') },
      { name: `${WORKERS} idle workers, /proc sampled every 1 s`, impls: ['rust'], metrics: metric, run: () => idleCpu('rust', 'sample') },
      { name: `${WORKERS} idle workers, heartbeat every 1 s`, impls: ['rust'], metrics: metric, run: () => idleCpu('rust', 'heartbeat') },
      { name: `${WORKERS} idle workers, both`, impls: ['rust'], metrics: metric, run: () => idleCpu('rust', 'all') },
    ];
  },
};
