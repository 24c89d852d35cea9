// The guide's "Implement Restart Limits" (Best Practices 3) and its exit handler with a
// restart window, built in: `restart` replaces a crashed worker in its slot with
// exponential backoff, resets the backoff once a worker has run `stableAfter` ms, and
// gives up on a slot after more than `maxRestarts` crashes within any `window` ms.
// Workers with CRASH_AFTER_MS set crash that long after starting.
const cluster = require('rust-cluster');
const http = require('http');

if (cluster.isPrimary) {
  cluster.setupPrimary({
    restart: { delay: 100, factor: 2, maxDelay: 2000, stableAfter: 10000, maxRestarts: 3, window: 60000 },
  });

  cluster.on('exit', (worker, code, signal) => {
    console.log(`Worker ${worker.id} exited (code: ${code}, signal: ${signal}, exitedAfterDisconnect: ${worker.exitedAfterDisconnect})`);
  });
  cluster.on('restart', (worker, previous, { attempt, delay }) => {
    console.log(`Worker ${worker.id} replaces worker ${previous.id} (attempt ${attempt}, after ${delay} ms)`);
  });
  cluster.on('giveup', (worker, { restarts, window }) => {
    console.log(`Giving up on worker ${worker.id}'s slot: ${restarts} crashes within ${window} ms`);
  });

  cluster.fork({ CRASH_AFTER_MS: process.env.CRASH_AFTER_MS ?? 200 }); // this one keeps crashing
  cluster.fork(); // this one is healthy
} else {
  http.createServer((req, res) => res.end(`Worker ${cluster.worker.id}\n`)).listen(Number(process.env.PORT ?? 8000));
  if (process.env.CRASH_AFTER_MS) {
    setTimeout(() => {
      throw new Error('crash');
    }, Number(process.env.CRASH_AFTER_MS));
  }
}
