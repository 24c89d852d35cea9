// Guide 4, "Event-Based Patterns" and "Best Practices", in TypeScript.
import cluster from 'rust-cluster';
import os from 'node:os';

export function healthMonitoring(): void {
  if (cluster.isMaster) {
    interface Health { state: string; healthy: boolean; lastCheck: number }
    const healthStatus = new Map<number, Health>();

    // Initialize health status on fork
    cluster.on('fork', (worker) => {
      healthStatus.set(worker.id, {
        state: 'starting',
        healthy: false,
        lastCheck: Date.now(),
      });
    });

    // Mark healthy when listening
    cluster.on('listening', (worker) => {
      const status = healthStatus.get(worker.id);
      if (!status) return;
      status.state = 'running';
      status.healthy = true;
    });

    // Mark unhealthy on disconnect
    cluster.on('disconnect', (worker) => {
      const status = healthStatus.get(worker.id);
      if (!status) return;
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
        const worker = cluster.workers?.[id];
        if (worker) {
          console.log(`Worker ${id}: ${status.state} (healthy: ${status.healthy})`);
        }
      });
    }, 10000);
  }
}

export function gracefulRestart(): void {
  if (cluster.isMaster) {
    let restarting = false;

    function restartAll(): void {
      if (restarting) return;
      restarting = true;

      const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
      let index = 0;

      function restartNext(): void {
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
          setTimeout(restartNext, 2000);
        });
      }

      restartNext();
    }

    // Trigger graceful restart on SIGUSR2
    process.on('SIGUSR2', () => {
      console.log('Received SIGUSR2, starting graceful restart');
      restartAll();
    });
  }
}

export function loadBasedScaling(): void {
  if (cluster.isMaster) {
    const MIN_WORKERS = 2;
    const MAX_WORKERS = os.cpus().length;

    const workerLoad = new Map<number, number>();

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
      const currentWorkers = Object.keys(cluster.workers ?? {}).length;
      const avgLoad = Array.from(workerLoad.values())
        .reduce((a, b) => a + b, 0) / workerLoad.size;

      console.log(`Workers: ${currentWorkers}, Avg Load: ${avgLoad.toFixed(2)}`);

      if (avgLoad > 0.8 && currentWorkers < MAX_WORKERS) {
        console.log('High load, adding worker');
        cluster.fork();
      } else if (avgLoad < 0.2 && currentWorkers > MIN_WORKERS) {
        console.log('Low load, removing worker');
        const worker = Object.values(cluster.workers ?? {})[0];
        worker?.disconnect();
      }
    }, 10000);
  }
}

export function alwaysHandleExit(): void {
  // ✓ CORRECT
  cluster.on('exit', (worker, code, signal) => {
    if (!worker.exitedAfterDisconnect) {
      cluster.fork(); // Auto-restart crashed workers
    }
    console.log(code, signal);
  });
}

export function intentionalVsUnintentional(): void {
  cluster.on('exit', (worker, code, signal) => {
    if (worker.exitedAfterDisconnect) {
      // Intentional shutdown (disconnect() was called)
      console.log('Graceful shutdown');
    } else {
      // Crash or unexpected exit
      console.error('Unexpected exit, restarting', code, signal);
      cluster.fork();
    }
  });
}

export function restartLimits(): void {
  const restartCounts = new Map<number, number>();

  cluster.on('exit', (worker) => {
    const count = restartCounts.get(worker.id) || 0;

    if (count < 5) {
      cluster.fork();
      restartCounts.set(worker.id, count + 1);
    } else {
      console.error('Too many restarts, not restarting worker');
    }
  });
}

export function coordination(): void {
  // Wait for all workers to be ready
  let readyWorkers = 0;
  const totalWorkers = 4;

  cluster.on('listening', (worker) => {
    readyWorkers++;

    if (readyWorkers === totalWorkers) {
      console.log(`All workers ready (last: ${worker.id}), enabling traffic`);
      // Enable load balancer, etc.
    }
  });
}
