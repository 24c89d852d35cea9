// Guide 4 "Cluster Events", Event-Based Patterns, 2. Graceful Restart.
// Changes from the guide: the require lines are added; the 2 s pause between
// workers is GUIDE_RESTART_STEP_MS (default 2000); code marked "added so the
// snippet runs" forks two HTTP workers (port from PORT, default 8000) and logs
// when workers listen and exit. `kill -USR2 <primary pid>` triggers the
// rolling restart. Runs until stopped.
const cluster = require('rust-cluster'); // added: the snippet has no require line
const http = require('http'); // added

if (cluster.isMaster) {
  let restarting = false;

  function gracefulRestart() {
    if (restarting) return;
    restarting = true;

    const workers = Object.values(cluster.workers);
    let index = 0;

    function restartNext() {
      if (index >= workers.length) {
        console.log('All workers restarted');
        restarting = false;
        return;
      }

      const oldWorker = workers[index++];
      const newWorker = cluster.fork();

      // Wait for new worker to be ready
      newWorker.on('listening', () => {
        console.log(`New worker ${newWorker.id} ready, disconnecting old worker ${oldWorker.id}`);

        // Gracefully disconnect old worker
        oldWorker.disconnect();

        // Continue with next worker
        setTimeout(restartNext, Number(process.env.GUIDE_RESTART_STEP_MS ?? 2000));
      });
    }

    restartNext();
  }

  // Trigger graceful restart on SIGUSR2
  process.on('SIGUSR2', () => {
    console.log('Received SIGUSR2, starting graceful restart');
    gracefulRestart();
  });
}

// ---- added so the snippet runs (not in the guide) ----
if (cluster.isMaster) {
  cluster.on('listening', (worker, address) => {
    console.log(`Worker ${worker.id} (pid ${worker.process.pid}) listening on port ${address.port}`);
  });
  cluster.on('exit', (worker, code, signal) => {
    console.log(`Worker ${worker.id} exited (code: ${code}, signal: ${signal}, exitedAfterDisconnect: ${worker.exitedAfterDisconnect})`);
  });
  for (let i = 0; i < 2; i++) {
    cluster.fork();
  }
} else {
  http.createServer((req, res) => {
    res.end(`Worker ${cluster.worker.id}\n`);
  }).listen(Number(process.env.PORT ?? 8000));
}
