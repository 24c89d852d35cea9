'use strict';
// 4. memory: the primary's RSS with 4 idle workers (all of it, and its anonymous part), and
// its peak RSS under HTTP load
// (policy rr, a new connection per request: the primary accepts every connection).
const path = require('node:path');
const { start, sleep } = require('../lib/proc');
const { load } = require('../lib/load');
const { rssMiB } = require('../lib/system');

const SCRIPT = path.join(__dirname, '..', 'scenarios', 'http-server.js');

async function measure(impl, config) {
  const proc = start(SCRIPT, {
    impl,
    cpu: config.pin?.cluster,
    env: { BENCH_WORKERS: 4, NODE_CLUSTER_SCHED_POLICY: 'rr' },
  });
  try {
    const { port, pid } = await proc.waitFor('ready', { timeout: 30000 });
    await sleep(1000);
    const idleMiB = rssMiB(pid);
    const idleAnonMiB = rssMiB(pid, 'RssAnon');
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMiB(pid) ?? 0);
    }, 100);
    try {
      await load({ port, connections: config.connections, mode: 'close', seconds: config.memoryLoadSeconds, cpu: config.pin?.load });
    } finally {
      clearInterval(sampler);
    }
    const last = rssMiB(pid);
    if (idleMiB == null || last == null) throw new Error(`the primary (pid ${pid}) died during the run: ${proc.output.slice(-20).join('\n')}`);
    return { idleMiB, idleAnonMiB, loadMiB: Math.max(peak, last) };
  } finally {
    await proc.cleanup();
  }
}

module.exports = {
  name: 'memory',
  cases(config) {
    return [{
      name: 'memory, 4 workers (rr, close)',
      impls: ['builtin', 'rust'],
      metrics: [
        { key: 'idleMiB', label: 'primary RSS idle MiB', better: 'lower' },
        { key: 'idleAnonMiB', label: 'primary RSS idle, anonymous MiB', better: 'lower' },
        { key: 'loadMiB', label: 'primary RSS peak under load MiB', better: 'lower' },
      ],
      run: (impl) => measure(impl, config),
    }];
  },
};
