// Guide 4 "Cluster Events", Best Practices, 3. Implement Restart Limits.
// Changes from the guide: the require line is added; code marked "added so
// the snippet runs" forks one (idle) worker and logs every fork.
// NOTE: as written in the guide, the count is kept per worker id and every
// replacement gets a new id (with a count of 0), so the limit is never
// reached: each exit is followed by a restart, with Node's built-in cluster
// too. Runs until stopped.
const cluster = require('rust-cluster'); // added: the snippet has no require line

const restartCounts = new Map();

cluster.on('exit', (worker) => {
  const count = restartCounts.get(worker.id) || 0;

  if (count < 5) {
    cluster.fork();
    restartCounts.set(worker.id, count + 1);
  } else {
    console.error('Too many restarts, not restarting worker');
  }
});

// ---- added so the snippet runs (not in the guide) ----
if (cluster.isMaster) {
  cluster.on('fork', (worker) => {
    console.log(`Forked worker ${worker.id} (pid ${worker.process.pid})`);
  });
  cluster.fork();
}
