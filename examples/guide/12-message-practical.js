// Guide 4 "Cluster Events", 'message' Event, Practical Example.
// Changes from the guide: the require line is added; the port comes from PORT
// (default 8000); the metrics display period is GUIDE_METRICS_DISPLAY_MS
// (default 10000) and the worker's report period GUIDE_METRICS_REPORT_MS
// (default 5000). Runs until stopped.
const cluster = require('rust-cluster'); // added: the snippet has no require line

if (cluster.isMaster) {
  const workerMetrics = new Map();

  cluster.on('message', (worker, msg) => {
    if (msg.type === 'metrics') {
      workerMetrics.set(worker.id, {
        ...msg.data,
        timestamp: Date.now()
      });
    }

    if (msg.type === 'error') {
      console.error(`Worker ${worker.id} error:`, msg.error);
    }

    if (msg.type === 'ready') {
      console.log(`Worker ${worker.id} reports ready`);
    }
  });

  // Display metrics periodically
  setInterval(() => {
    console.log('\n=== Worker Metrics ===');
    workerMetrics.forEach((metrics, id) => {
      console.log(`Worker ${id}:`, metrics);
    });
  }, Number(process.env.GUIDE_METRICS_DISPLAY_MS ?? 10000));

  cluster.fork();
}

if (cluster.isWorker) {
  let requestCount = 0;

  const http = require('http');
  http.createServer((req, res) => {
    requestCount++;
    res.end('OK');
  }).listen(Number(process.env.PORT ?? 8000));

  // Report metrics
  setInterval(() => {
    process.send({
      type: 'metrics',
      data: {
        requests: requestCount,
        memory: process.memoryUsage().heapUsed / 1024 / 1024,
        uptime: process.uptime()
      }
    });
  }, Number(process.env.GUIDE_METRICS_REPORT_MS ?? 5000));

  // Signal ready
  process.send({ type: 'ready' });
}
