// Guide 4 "Cluster Events", 4. 'disconnect' Event (basic example).
// Changes from the guide: the require line is added; the 5 s delay is
// configurable with GUIDE_DISCONNECT_AFTER_MS (default 5000).
// The worker stays idle until the primary disconnects it; then it exits and,
// with nothing left to do, the primary exits too.
const cluster = require('rust-cluster'); // added: the snippet has no require line

if (cluster.isMaster) {
  cluster.on('disconnect', (worker) => {
    console.log(`Worker ${worker.id} disconnected`);
    console.log(`IPC channel closed`);
  });

  const worker = cluster.fork();

  setTimeout(() => {
    worker.disconnect(); // Triggers 'disconnect' event
  }, Number(process.env.GUIDE_DISCONNECT_AFTER_MS ?? 5000));
}
