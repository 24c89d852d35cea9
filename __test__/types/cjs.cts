// CommonJS consumers: `import x = require()` (what `require('rust-cluster')` is typed as)
// and named imports of the cluster object's properties.
import cluster = require('rust-cluster');
import { fork, isPrimary, workers } from 'rust-cluster';

if (isPrimary) {
  const worker: cluster.Worker = fork();
  const settings: cluster.ClusterSettings = cluster.settings;
  cluster.on('listening', (w: cluster.Worker, address: cluster.Address) => {
    console.log(w.id, address.address, address.port, settings.exec);
  });
  for (const [id, w] of Object.entries(workers ?? {})) console.log(id, w?.id, worker.id);
}
