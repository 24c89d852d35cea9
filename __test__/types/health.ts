// The health settings, events and stats of rust-cluster type-check (issue 14).
import cluster = require('rust-cluster');

cluster.setupPrimary({
  heartbeat: { interval: 1000, timeout: 10000 },
  maxMemory: '512M',
  memoryMetric: 'pss',
  sampleInterval: 1000,
  recycle: { connections: 10000, jitter: 500 },
  cpuAffinity: 'spread',
});
cluster.setupPrimary({ heartbeat: true, maxMemory: 1 << 29, cpuAffinity: [[0], [1, 2]] });
cluster.on('unresponsive', (worker, info) => {
  const at: number | null = info.lastBeat;
  const delay: number | null = info.eventLoopDelay;
  console.log(worker.id, at, delay);
});
cluster.on('memory', (worker, { rss, pss, limit }) => console.log(worker.id, rss, pss, limit));
cluster.on('recycle', (worker, { reason, connections }) => console.log(worker.id, reason, connections));
const w = cluster.fork();
w.on('memory', ({ rss, limit }) => console.log(rss > limit));
w.once('unresponsive', ({ lastBeat }) => console.log(lastBeat));
const s: cluster.WorkerStats = w.stats();
const total: number = s.cpu.user + s.cpu.system + s.rss + s.pss + s.fds + s.threads + s.connections + s.restarts;
const all: cluster.ClusterStats = cluster.stats();
const n: number = cluster.availableParallelism() + all.primary.cpuPercent + total;
console.log(n);
// @ts-expect-error: memoryMetric is 'rss' or 'pss'
cluster.setupPrimary({ memoryMetric: 'vss' });
