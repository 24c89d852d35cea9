// The guide's "Health Monitoring" (Event-Based Patterns 1), built in: a worker is ready
// when it says so (`process.send('ready')`, after its start-up work), the primary hands it
// no connection before that, and one that is not ready within `startupTimeout` is killed
// and counts as a crash. worker.isReady() is the health state; the events report changes.
const cluster = require('rust-cluster');
const http = require('http');

if (cluster.isPrimary) {
  cluster.setupPrimary({
    readyOn: 'message',
    startupTimeout: Number(process.env.STARTUP_TIMEOUT_MS ?? 5000),
    restart: { maxRestarts: 2 },
  });

  const report = () => {
    for (const worker of Object.values(cluster.workers)) {
      console.log(`Worker ${worker.id}: ${worker.isReady() ? 'ready' : 'starting'}`);
    }
  };
  cluster.on('ready', (worker) => {
    console.log(`Worker ${worker.id} is ready`);
    report();
  });
  cluster.on('exit', (worker, code, signal) => console.log(`Worker ${worker.id} exited (signal: ${signal})`));
  cluster.on('giveup', (worker) => console.log(`Giving up on worker ${worker.id}'s slot`));

  cluster.fork();
  cluster.fork({ NEVER_READY: process.env.STUCK_SECOND_WORKER ? '1' : '' }); // STUCK_SECOND_WORKER=1: it never says 'ready'
} else {
  const server = http.createServer((req, res) => res.end(`Worker ${cluster.worker.id}\n`));
  server.listen(Number(process.env.PORT ?? 8000), () => {
    // Start-up work (warming caches, connecting to a database) goes here.
    if (!process.env.NEVER_READY) setTimeout(() => process.send('ready'), 300);
  });
}
