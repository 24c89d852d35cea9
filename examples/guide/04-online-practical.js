// Guide 4 "Cluster Events", 2. 'online' Event, Practical Example.
// Changes from the guide: the require line is added; the slow-startup
// threshold is configurable with GUIDE_SLOW_STARTUP_MS (default 5000); a
// small worker branch is added at the bottom so the 'configure' message the
// primary sends can be observed.
const cluster = require('rust-cluster'); // added: the snippet has no require line

if (cluster.isMaster) {
  const workerStartupTimes = new Map();

  cluster.on('fork', (worker) => {
    workerStartupTimes.set(worker.id, Date.now());
  });

  cluster.on('online', (worker) => {
    const startTime = workerStartupTimes.get(worker.id);
    const duration = Date.now() - startTime;

    console.log(`Worker ${worker.id} online after ${duration}ms`);

    // Send initial configuration
    worker.send({
      cmd: 'configure',
      config: {
        workerId: worker.id,
        maxConnections: 1000
      }
    });

    // Alert if startup is slow
    if (duration > Number(process.env.GUIDE_SLOW_STARTUP_MS ?? 5000)) {
      console.warn(`WARNING: Slow worker startup (${duration}ms)`);
    }
  });

  cluster.fork();
}

// ---- added so the snippet runs (not in the guide) ----
// The worker prints the configuration it receives, then disconnects itself so
// that the example ends.
if (cluster.isWorker) {
  process.once('message', (msg) => {
    console.log(`Worker ${cluster.worker.id} received ${JSON.stringify(msg)}`);
    cluster.worker.disconnect();
  });
}
