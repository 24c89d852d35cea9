// Guide 4 "Cluster Events", 2. 'online' Event (basic example).
// Changes from the guide: the require line is added (the snippet has none).
// The worker stays idle and connected, so this keeps running until stopped.
const cluster = require('rust-cluster'); // added: the snippet has no require line

if (cluster.isMaster) {
  cluster.on('online', (worker) => {
    console.log(`Worker ${worker.id} is online`);
    console.log(`PID: ${worker.process.pid}`);
  });

  cluster.fork();
}
