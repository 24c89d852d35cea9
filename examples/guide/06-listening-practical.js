// Guide 4 "Cluster Events", 3. 'listening' Event, Practical Example.
// Changes from the guide: the require line is added; a worker branch with an
// HTTP server (port from PORT, default 8000) is added at the bottom, since
// the snippet's workers would otherwise never listen. Runs until stopped.
const cluster = require('rust-cluster'); // added: the snippet has no require line

if (cluster.isMaster) {
  const workerPorts = new Map();

  cluster.on('listening', (worker, address) => {
    workerPorts.set(worker.id, address);

    console.log(`✓ Worker ${worker.id} ready`);
    console.log(`  Address: ${address.address}:${address.port}`);
    console.log(`  Type: IPv${address.addressType}`);

    // Check if all workers are ready
    const totalWorkers = Object.keys(cluster.workers).length;
    if (workerPorts.size === totalWorkers) {
      console.log('\n=== All workers ready ===');
      workerPorts.forEach((addr, id) => {
        console.log(`Worker ${id}: ${addr.address}:${addr.port}`);
      });
    }
  });

  for (let i = 0; i < 4; i++) {
    cluster.fork();
  }
}

// ---- added so the snippet runs (not in the guide): workers serve HTTP ----
if (cluster.isWorker) {
  const http = require('http');
  http.createServer((req, res) => {
    res.end(`Worker ${cluster.worker.id}\n`);
  }).listen(Number(process.env.PORT ?? 8000));
}
