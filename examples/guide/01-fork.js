// Guide 4 "Cluster Events", 1. 'fork' Event (basic example).
// Changes from the guide: require('rust-cluster').
// Like with Node's built-in cluster, the worker (which has no code of its own
// here) stays idle and connected, so this keeps running until it is stopped.
const cluster = require('rust-cluster');

if (cluster.isMaster) {
  // Listen for fork event
  cluster.on('fork', (worker) => {
    console.log(`Worker ${worker.id} is being forked`);
    console.log(`Process will be: ${worker.process.pid}`);
  });

  // Fork a worker
  cluster.fork();
}
