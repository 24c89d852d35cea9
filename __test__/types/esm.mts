// The ES module entry: a default import and every named export of index.mjs.
import cluster, {
  isPrimary, isMaster, isWorker, Worker, SCHED_NONE, SCHED_RR, SCHED_REUSEPORT, SCHED_STICKY,
  fork, disconnect, setupPrimary, setupMaster,
} from 'rust-cluster';
import * as ns from 'rust-cluster';
import type { Address } from 'rust-cluster';
// index.d.mts itself, whatever the package's "exports" map resolves for `import`.
import direct, * as directNs from '../../index.mjs';
import type { ClusterSettings as DirectSettings, Worker as DirectWorker } from '../../index.mjs';

const flags: boolean[] = [isPrimary, isMaster, isWorker, cluster.isPrimary];
const policies: number[] = [SCHED_NONE, SCHED_RR, SCHED_REUSEPORT, SCHED_STICKY, ns.SCHED_RR, directNs.SCHED_STICKY];

if (isPrimary) {
  setupPrimary({ exec: 'worker.mjs', serialization: 'advanced' });
  setupMaster({ silent: true });
  const worker: Worker = fork({ PORT: 3000 });
  const fromDefault: Worker = cluster.fork();
  const again: DirectWorker = directNs.fork();
  const viaDefault: DirectWorker = direct.fork();
  worker.on('listening', (address: Address) => console.log(address.port));
  if (fromDefault instanceof Worker && again instanceof directNs.Worker) {
    fromDefault.send({ cmd: 'hi' });
  }
  cluster.on('exit', (w, code, signal) => console.log(w.id, code, signal));
  ns.default.on('online', (w) => console.log(w.id));
  disconnect(() => console.log('all disconnected', viaDefault.id));
  directNs.disconnect();
}

const settings: DirectSettings = direct.settings;
export { flags, policies, settings };
