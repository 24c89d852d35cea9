// Guide 4 "Cluster Events", 1. 'fork' Event, Practical Example.
// Changes from the guide: the require line is added (the snippet has none).
// The four workers stay idle and connected (as with Node's built-in cluster),
// so this keeps running until it is stopped.
const cluster = require('rust-cluster'); // added: the snippet has no require line

if (cluster.isMaster) {
  const workerMetadata = new Map();

  cluster.on('fork', (worker) => {
    // Track when worker fork started
    workerMetadata.set(worker.id, {
      forkStarted: Date.now(),
      forkCount: (workerMetadata.get(worker.id)?.forkCount || 0) + 1,
      pid: worker.process.pid
    });

    console.log(`Forking worker ${worker.id} (attempt ${workerMetadata.get(worker.id).forkCount})`);
  });

  for (let i = 0; i < 4; i++) {
    cluster.fork();
  }
}
