// Guide 4, "Communication Events" ('message') and "Setup Event" ('setup'), in TypeScript.
import cluster from 'rust-cluster';
import http from 'node:http';

export function messageEvent(): void {
  if (cluster.isMaster) {
    cluster.on('message', (worker, message, handle) => {
      console.log(`Message from worker ${worker.id}:`, message, handle);
    });

    cluster.fork();
  }

  if (cluster.isWorker) {
    // Send message to master
    process.send?.({
      type: 'status',
      data: { healthy: true },
    });
  }
}

export function messageEventPractical(): void {
  if (cluster.isMaster) {
    const workerMetrics = new Map<number, Record<string, unknown>>();

    cluster.on('message', (worker, msg) => {
      if (msg.type === 'metrics') {
        workerMetrics.set(worker.id, {
          ...msg.data,
          timestamp: Date.now(),
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
    }, 10000);

    cluster.fork();
  }

  if (cluster.isWorker) {
    let requestCount = 0;

    http.createServer((req, res) => {
      requestCount++;
      res.end('OK');
    }).listen(8000);

    // Report metrics
    setInterval(() => {
      process.send?.({
        type: 'metrics',
        data: {
          requests: requestCount,
          memory: process.memoryUsage().heapUsed / 1024 / 1024,
          uptime: process.uptime(),
        },
      });
    }, 5000);

    // Signal ready
    process.send?.({ type: 'ready' });
  }
}

export function setupEvent(): void {
  if (cluster.isMaster) {
    cluster.on('setup', (settings) => {
      console.log('Cluster settings:', settings);
    });

    cluster.setupMaster({
      exec: 'worker.js',
      args: ['--use', 'https'],
      silent: false,
    });
  }
}
