'use strict';
// Run with `node -r rust-cluster/register` (or NODE_OPTIONS): in the primary,
// require('cluster') and require('node:cluster') are rust-cluster; in a worker they stay
// Node's worker-side module (with rust-cluster's policy constants once it is loaded).
const cluster = require('cluster');
const nodeCluster = require('node:cluster');
const rustCluster = require('rust-cluster');

const out = (obj) => console.log(`@ ${JSON.stringify(obj)}`);
const report = {
  isPrimary: cluster.isPrimary,
  clusterSticky: cluster.SCHED_STICKY,
  nodeClusterSticky: nodeCluster.SCHED_STICKY,
  sameModule: cluster === nodeCluster && cluster === rustCluster,
};

if (cluster.isPrimary) {
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
