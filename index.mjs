// ESM entry: the same object as require('rust-cluster'), with Node's named exports.
import { createRequire } from 'node:module';

const cluster = createRequire(import.meta.url)('./index.js');

export default cluster;
export const {
  isPrimary, isMaster, isWorker, Worker, SCHED_NONE, SCHED_RR, SCHED_REUSEPORT, SCHED_STICKY,
  // As with node:cluster's ESM exports, these are the values at import time.
  workers, settings, schedulingPolicy,
} = cluster;
// Functions bound so `import { fork } from 'rust-cluster'` works like cluster.fork.
export const fork = (...args) => cluster.fork(...args);
export const disconnect = (...args) => cluster.disconnect(...args);
export const setupPrimary = (...args) => cluster.setupPrimary(...args);
export const setupMaster = (...args) => cluster.setupMaster(...args);
// rust-cluster's additions (primary only, as cluster.fork).
export const shutdown = (...args) => cluster.shutdown(...args);
export const reload = (...args) => cluster.reload(...args);
export const scale = (...args) => cluster.scale(...args);
export const stats = (...args) => cluster.stats(...args);
export const availableParallelism = (...args) => cluster.availableParallelism(...args);
