// Guide 4 "Cluster Events", 4. 'disconnect' Event, Practical Example.
// Changes from the guide: the require line is added; the 10 s delay is
// configurable with GUIDE_DISCONNECT_AFTER_MS (default 10000).
// The other three (idle) workers keep running until the example is stopped.
const cluster = require('rust-cluster'); // added: the snippet has no require line

if (cluster.isMaster) {
  const workerStatus = new Map();

  cluster.on('online', (worker) => {
    workerStatus.set(worker.id, 'active');
  });

  cluster.on('disconnect', (worker) => {
    console.log(`Worker ${worker.id} disconnecting...`);
    workerStatus.set(worker.id, 'disconnecting');

    // Remove from active pool
    console.log('Active workers:',
      Array.from(workerStatus.entries())
        .filter(([id, status]) => status === 'active')
        .map(([id]) => id)
    );

    // Check if intentional shutdown
    if (worker.exitedAfterDisconnect) {
      console.log('  → Graceful shutdown');
    } else {
      console.log('  → Unexpected disconnect');
    }
  });

  // Create workers
  for (let i = 0; i < 4; i++) {
    cluster.fork();
  }

  // Gracefully disconnect one worker after 10 seconds
  setTimeout(() => {
    const worker = Object.values(cluster.workers)[0];
    worker.disconnect();
  }, Number(process.env.GUIDE_DISCONNECT_AFTER_MS ?? 10000));
}
