// Guide 4 "Cluster Events", 'message' Event (basic example).
// Changes from the guide: the require line is added.
// The worker stays connected after sending, so this runs until stopped.
const cluster = require('rust-cluster'); // added: the snippet has no require line

if (cluster.isMaster) {
  cluster.on('message', (worker, message, handle) => {
    console.log(`Message from worker ${worker.id}:`, message);
  });

  cluster.fork();
}

if (cluster.isWorker) {
  // Send message to master
  process.send({
    type: 'status',
    data: { healthy: true }
  });
}
