// Copied into the fresh project where the packed tarball was installed and run there with
// `node -r rust-cluster/register`: the package's ESM entry and its register hook, as
// installed (not through the repository's self-reference).
import cluster from 'rust-cluster';
import { fork, isPrimary } from 'rust-cluster';
import nodeCluster from 'node:cluster';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const out = (obj) => console.log(`@ ${JSON.stringify(obj)}`);

if (isPrimary) {
  out({
    ev: 'primary',
    resolved: require.resolve('rust-cluster'),
    sticky: cluster.SCHED_STICKY,
    importNodeCluster: nodeCluster === cluster,
    requireCluster: require('cluster') === cluster,
  });
  const worker = fork();
  worker.on('message', (msg) => {
    out({ ev: 'message', msg });
    cluster.disconnect(() => out({ ev: 'disconnected' }));
  });
} else {
  process.send({ isPrimary, id: cluster.worker.id, builtin: cluster === nodeCluster });
}
