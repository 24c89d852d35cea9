// Guide 4 "Cluster Events", Event-Based Patterns, 3. Load-Based Scaling.
// Changes from the guide: the require lines are added; the 10 s check period
// is GUIDE_SCALE_CHECK_MS (default 10000); MAX_WORKERS can be overridden with
// GUIDE_MAX_WORKERS (default os.cpus().length); code marked "added so the
// snippet runs" forks GUIDE_INITIAL_WORKERS (default 2) HTTP workers (port
// from PORT, default 8000) that report the load GUIDE_WORKER_LOAD (default
// 0.5) once they listen. Runs until stopped.
const cluster = require('rust-cluster'); // added: the snippet has no require line
const http = require('http'); // added
const os = require('os'); // added

if (cluster.isMaster) {
  const MIN_WORKERS = 2;
  const MAX_WORKERS = Number(process.env.GUIDE_MAX_WORKERS ?? os.cpus().length);

  let workerLoad = new Map();

  cluster.on('online', (worker) => {
    workerLoad.set(worker.id, 0);
  });

  cluster.on('exit', (worker) => {
    workerLoad.delete(worker.id);
  });

  cluster.on('message', (worker, msg) => {
    if (msg.type === 'load') {
      workerLoad.set(worker.id, msg.value);
    }
  });

  // Check load and scale
  setInterval(() => {
    const currentWorkers = Object.keys(cluster.workers).length;
    const avgLoad = Array.from(workerLoad.values())
      .reduce((a, b) => a + b, 0) / workerLoad.size;

    console.log(`Workers: ${currentWorkers}, Avg Load: ${avgLoad.toFixed(2)}`);

    if (avgLoad > 0.8 && currentWorkers < MAX_WORKERS) {
      console.log('High load, adding worker');
      cluster.fork();
    } else if (avgLoad < 0.2 && currentWorkers > MIN_WORKERS) {
      console.log('Low load, removing worker');
      const worker = Object.values(cluster.workers)[0];
      worker.disconnect();
    }
  }, Number(process.env.GUIDE_SCALE_CHECK_MS ?? 10000));
}

// ---- added so the snippet runs (not in the guide) ----
if (cluster.isMaster) {
  const initialWorkers = Number(process.env.GUIDE_INITIAL_WORKERS ?? 2);
  for (let i = 0; i < initialWorkers; i++) {
    cluster.fork();
  }
} else {
  http.createServer((req, res) => {
    res.end(`Worker ${cluster.worker.id}\n`);
  }).listen(Number(process.env.PORT ?? 8000), () => {
    process.send({ type: 'load', value: Number(process.env.GUIDE_WORKER_LOAD ?? 0.5) });
  });
}
