// Run with `node -r rust-cluster/register` (or NODE_OPTIONS): in the primary,
// `import cluster from 'node:cluster'` (and from 'cluster') is rust-cluster.
import cluster from 'node:cluster';
import bareCluster from 'cluster';
import { isPrimary, isWorker } from 'node:cluster';
import rustCluster from 'rust-cluster';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const out = (obj) => console.log(`@ ${JSON.stringify(obj)}`);
const report = {
  isPrimary,
  isWorker,
  importSticky: cluster.SCHED_STICKY,
  importBareSticky: bareCluster.SCHED_STICKY,
  requireSticky: require('node:cluster').SCHED_STICKY,
  sameModule: cluster === rustCluster && bareCluster === rustCluster,
};

if (isPrimary) {
  out({ ev: 'primary', ...report });
  const worker = cluster.fork();
  worker.on('message', (msg) => {
    out({ ev: 'worker', ...msg });
    cluster.disconnect();
  });
  cluster.on('exit', (w, code, signal) => out({ ev: 'exit', code, signal }));
} else {
  process.send({ ...report, id: cluster.worker.id });
}
