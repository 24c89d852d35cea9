// Guide 4 "Cluster Events", Best Practices, 2. Distinguish Intentional vs
// Unintentional Exits.
// Changes from the guide: the require line is added; code marked "added so
// the snippet runs" forks two (idle) workers, logs every fork, and
// disconnects all workers on SIGHUP (after which the primary exits).
const cluster = require('rust-cluster'); // added: the snippet has no require line

cluster.on('exit', (worker, code, signal) => {
  if (worker.exitedAfterDisconnect) {
    // Intentional shutdown (disconnect() was called)
    console.log('Graceful shutdown');
  } else {
    // Crash or unexpected exit
    console.error('Unexpected exit, restarting');
    cluster.fork();
  }
});

// ---- added so the snippet runs (not in the guide) ----
if (cluster.isMaster) {
  cluster.on('fork', (worker) => {
    console.log(`Forked worker ${worker.id} (pid ${worker.process.pid})`);
  });
  process.on('SIGHUP', () => {
    console.log('SIGHUP: disconnecting all workers');
    cluster.disconnect();
  });
  for (let i = 0; i < 2; i++) {
    cluster.fork();
  }
}
