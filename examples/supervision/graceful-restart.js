// The guide's "Graceful Restart" (Event-Based Patterns 2), built in: `kill -USR2 <pid>`
// runs cluster.reload(), which forks each replacement first, waits until it is ready,
// only then stops the old worker (no new connection for it, keep-alive clients moved
// away, then Node's disconnect(), then SIGKILL at the deadline), one after the other, so
// the number of ready workers never drops. SIGTERM or SIGINT shuts everything down and
// exits 0 (a second one exits at once with 1).
const cluster = require('rust-cluster');
const http = require('http');

if (cluster.isPrimary) {
  cluster.setupPrimary({
    reloadSignal: 'SIGUSR2',
    shutdownSignals: ['SIGTERM', 'SIGINT'],
    shutdownTimeout: 5000,
    restart: true,
  });

  cluster.on('listening', (worker, address) => {
    console.log(`Worker ${worker.id} (pid ${worker.process.pid}) listening on port ${address.port}`);
  });
  cluster.on('reload', ({ replaced }) => {
    console.log(`All workers restarted: ${replaced.map(([old, now]) => `${old} -> ${now}`).join(', ')}`);
  });

  for (let i = 0; i < Number(process.env.WORKERS ?? 2); i++) cluster.fork();
} else {
  http.createServer((req, res) => res.end(`Worker ${cluster.worker.id}\n`)).listen(Number(process.env.PORT ?? 8000));
}
