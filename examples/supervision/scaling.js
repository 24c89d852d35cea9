// The guide's "Load-Based Scaling" (Event-Based Patterns 3), built in: the workers report
// their load, and the primary asks for a worker count with cluster.scale(n), which forks
// or retires (newest first, gracefully) until n workers are alive and ready. With
// `restart` on, n is also what the primary keeps when a worker crashes.
const cluster = require('rust-cluster');
const http = require('http');

if (cluster.isPrimary) {
  const MIN_WORKERS = Number(process.env.MIN_WORKERS ?? 2);
  const MAX_WORKERS = Number(process.env.MAX_WORKERS ?? 4);
  const CHECK_MS = Number(process.env.CHECK_MS ?? 10000);
  cluster.setupPrimary({ restart: true, shutdownTimeout: 5000 });

  const load = new Map();
  cluster.on('message', (worker, msg) => {
    if (msg.type === 'load') load.set(worker.id, msg.value);
  });
  cluster.on('exit', (worker) => load.delete(worker.id));

  let target = MIN_WORKERS;
  let scaling = cluster.scale(target);
  setInterval(() => {
    const values = Object.values(cluster.workers).map((w) => load.get(w.id) ?? 0);
    const avg = values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
    const next = avg > 0.8 ? Math.min(target + 1, MAX_WORKERS) : avg < 0.2 ? Math.max(target - 1, MIN_WORKERS) : target;
    if (next === target) return;
    target = next;
    console.log(`Average load ${avg.toFixed(2)}: scaling to ${target} workers`);
    scaling = scaling.then(() => cluster.scale(target)).then(() => {
      console.log(`Scaled: ${Object.keys(cluster.workers).length} workers`);
    });
  }, CHECK_MS);
} else {
  let busy = 0;
  http.createServer((req, res) => {
    busy++;
    setTimeout(() => {
      busy--;
      res.end(`Worker ${cluster.worker.id}\n`);
    }, 50);
  }).listen(Number(process.env.PORT ?? 8000));
  // LOAD fixes the reported load (for demonstration); otherwise requests in progress / 10.
  setInterval(() => process.send({ type: 'load', value: Number(process.env.LOAD ?? Math.min(busy / 10, 1)) }), 200);
}
