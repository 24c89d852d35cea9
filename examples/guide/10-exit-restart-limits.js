// Guide 4 "Cluster Events", 5. 'exit' Event, Practical Example (restart limits).
// Changes from the guide: the require line is added; the 1 minute restart
// window is configurable with GUIDE_RESTART_WINDOW_MS (default 60000).
// The worker stays idle; every time it is killed it is restarted, until the
// sixth unexpected exit within the window, after which the primary gives up
// (and exits, having no worker left).
const cluster = require('rust-cluster'); // added: the snippet has no require line

if (cluster.isMaster) {
  const workerRestarts = new Map();
  const MAX_RESTARTS = 5;
  const RESTART_WINDOW = Number(process.env.GUIDE_RESTART_WINDOW_MS ?? 60000); // 1 minute

  cluster.on('exit', (worker, code, signal) => {
    console.log(`\n=== Worker ${worker.id} Exit ===`);
    console.log(`PID: ${worker.process.pid}`);
    console.log(`Exit code: ${code}`);
    console.log(`Signal: ${signal}`);
    console.log(`Intentional: ${worker.exitedAfterDisconnect}`);

    // Don't restart if intentional shutdown
    if (worker.exitedAfterDisconnect) {
      console.log('→ Graceful shutdown, not restarting');
      return;
    }

    // Track restart attempts
    const now = Date.now();
    const restarts = workerRestarts.get(worker.id) || [];

    // Remove old restart attempts outside window
    const recentRestarts = restarts.filter(time => now - time < RESTART_WINDOW);
    recentRestarts.push(now);
    workerRestarts.set(worker.id, recentRestarts);

    // Check restart limit
    if (recentRestarts.length > MAX_RESTARTS) {
      console.error(`→ Too many restarts (${recentRestarts.length}), giving up`);
      return;
    }

    // Restart worker
    console.log(`→ Restarting worker (attempt ${recentRestarts.length}/${MAX_RESTARTS})`);
    const newWorker = cluster.fork();
    workerRestarts.set(newWorker.id, recentRestarts);
  });

  cluster.fork();
}
