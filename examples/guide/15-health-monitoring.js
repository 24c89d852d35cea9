// Guide 4 "Cluster Events", Event-Based Patterns, 1. Health Monitoring.
// Changes from the guide: the require lines are added; the 10 s check period
// is GUIDE_HEALTH_CHECK_MS (default 10000); code marked "added so the snippet
// runs" forks two HTTP workers (port from PORT, default 8000), prints the
// snippet's health record after each lifecycle event, and gracefully
// disconnects worker 1 on SIGHUP. Runs until stopped.
const cluster = require('rust-cluster'); // added: the snippet has no require line
const http = require('http'); // added

if (cluster.isMaster) {
  const healthStatus = new Map();

  // Initialize health status on fork
  cluster.on('fork', (worker) => {
    healthStatus.set(worker.id, {
      state: 'starting',
      healthy: false,
      lastCheck: Date.now()
    });
  });

  // Mark healthy when listening
  cluster.on('listening', (worker) => {
    const status = healthStatus.get(worker.id);
    status.state = 'running';
    status.healthy = true;
  });

  // Mark unhealthy on disconnect
  cluster.on('disconnect', (worker) => {
    const status = healthStatus.get(worker.id);
    status.state = 'disconnecting';
    status.healthy = false;
  });

  // Remove on exit
  cluster.on('exit', (worker) => {
    healthStatus.delete(worker.id);
  });

  // Regular health checks
  setInterval(() => {
    console.log('\n=== Health Status ===');
    healthStatus.forEach((status, id) => {
      const worker = cluster.workers[id];
      if (worker) {
        console.log(`Worker ${id}: ${status.state} (healthy: ${status.healthy})`);
      }
    });
  }, Number(process.env.GUIDE_HEALTH_CHECK_MS ?? 10000));

  // ---- added so the snippet runs (not in the guide) ----
  // These listeners run right after the snippet's own (registered above), so
  // they show each transition of the health record.
  for (const event of ['fork', 'listening', 'disconnect', 'exit']) {
    cluster.on(event, (worker) => {
      const status = healthStatus.get(worker.id);
      console.log(`[${event}] Worker ${worker.id}: ${status ? `${status.state} (healthy: ${status.healthy})` : 'removed'}`);
    });
  }
  process.on('SIGHUP', () => {
    console.log('SIGHUP: disconnecting worker 1');
    cluster.workers[1]?.disconnect();
  });
  for (let i = 0; i < 2; i++) {
    cluster.fork();
  }
}

// ---- added so the snippet runs (not in the guide): workers serve HTTP ----
if (cluster.isWorker) {
  http.createServer((req, res) => {
    res.end(`Worker ${cluster.worker.id}\n`);
  }).listen(Number(process.env.PORT ?? 8000));
}
