// `import cluster from 'rust-cluster'` and `import { fork, isPrimary } from 'rust-cluster'`
// (the package's "import" entry, index.mjs), in the primary and in the workers.
import cluster from 'rust-cluster';
import { fork, isPrimary, isWorker, disconnect, SCHED_RR, SCHED_STICKY, SCHED_REUSEPORT } from 'rust-cluster';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const out = (obj) => console.log(`@ ${JSON.stringify(obj)}`);

if (isPrimary) {
  out({
    ev: 'primary',
    isPrimary,
    isWorker,
    clusterIsPrimary: cluster.isPrimary,
    sameAsRequire: cluster === require('rust-cluster'),
    sticky: cluster.SCHED_STICKY,
    named: [SCHED_RR, SCHED_REUSEPORT, SCHED_STICKY],
  });
  let messages = 0;
  cluster.on('message', (worker, msg) => {
    out({ ev: 'message', from: worker.id, msg });
    if (++messages === 2) disconnect(() => out({ ev: 'disconnected' }));
  });
  cluster.on('exit', (worker, code, signal) => out({ ev: 'exit', id: worker.id, code, signal }));
  fork({ ESM_FIXTURE_ROLE: 'a' });
  fork({ ESM_FIXTURE_ROLE: 'b' });
} else {
  process.send({
    role: process.env.ESM_FIXTURE_ROLE,
    isPrimary,
    isWorker,
    workerId: cluster.worker.id,
    sameAsRequire: cluster === require('rust-cluster'),
    builtin: cluster === require('node:cluster'),
    forkType: typeof fork,
    named: [SCHED_RR, SCHED_REUSEPORT, SCHED_STICKY],
  });
}
