// Guide 4 "Cluster Events", Best Practices, 4. Use Events for Coordination.
// Changes from the guide: the require line is added; code marked "added so
// the snippet runs" forks four workers that serve HTTP (port from PORT,
// default 8000). Runs until stopped.
const cluster = require('rust-cluster'); // added: the snippet has no require line

// Wait for all workers to be ready
let readyWorkers = 0;
const totalWorkers = 4;

cluster.on('listening', (worker) => {
  readyWorkers++;

  if (readyWorkers === totalWorkers) {
    console.log('All workers ready, enabling traffic');
    // Enable load balancer, etc.
  }
});

// ---- added so the snippet runs (not in the guide) ----
if (cluster.isMaster) {
  cluster.on('listening', (worker, address) => {
    console.log(`Worker ${worker.id} listening on port ${address.port}`);
  });
  for (let i = 0; i < totalWorkers; i++) {
    cluster.fork();
  }
} else {
  require('http').createServer((req, res) => {
    res.end(`Worker ${cluster.worker.id}\n`);
  }).listen(Number(process.env.PORT ?? 8000));
}
