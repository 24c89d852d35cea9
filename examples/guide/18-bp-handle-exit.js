// Guide 4 "Cluster Events", Best Practices, 1. Always Handle Exit Events.
// Changes from the guide: the require line is added; code marked "added so
// the snippet runs" forks two (idle) workers and logs every fork, so a
// crashed worker's replacement can be seen. Runs until stopped.
const cluster = require('rust-cluster'); // added: the snippet has no require line

// ✓ CORRECT
cluster.on('exit', (worker, code, signal) => {
  if (!worker.exitedAfterDisconnect) {
    cluster.fork(); // Auto-restart crashed workers
  }
});

// ❌ WRONG
// Not handling exit events means crashed workers aren't replaced

// ---- added so the snippet runs (not in the guide) ----
if (cluster.isMaster) {
  cluster.on('fork', (worker) => {
    console.log(`Forked worker ${worker.id} (pid ${worker.process.pid})`);
  });
  for (let i = 0; i < 2; i++) {
    cluster.fork();
  }
}
