// Guide 4, "Core Lifecycle Events": the 'fork', 'online', 'listening', 'disconnect' and
// 'exit' examples, in TypeScript, against rust-cluster's types. Each example is a
// function so that the names it declares stay its own.
import cluster from 'rust-cluster';
import http from 'node:http';

export function forkEvent(): void {
  if (cluster.isMaster) {
    // Listen for fork event
    cluster.on('fork', (worker) => {
      console.log(`Worker ${worker.id} is being forked`);
      console.log(`Process will be: ${worker.process.pid}`);
    });

    // Fork a worker
    cluster.fork();
  }
}

export function forkEventPractical(): void {
  if (cluster.isMaster) {
    const workerMetadata = new Map<number, { forkStarted: number; forkCount: number; pid: number | undefined }>();

    cluster.on('fork', (worker) => {
      // Track when worker fork started
      workerMetadata.set(worker.id, {
        forkStarted: Date.now(),
        forkCount: (workerMetadata.get(worker.id)?.forkCount || 0) + 1,
        pid: worker.process.pid,
      });

      console.log(`Forking worker ${worker.id} (attempt ${workerMetadata.get(worker.id)?.forkCount})`);
    });

    for (let i = 0; i < 4; i++) {
      cluster.fork();
    }
  }
}

export function onlineEvent(): void {
  if (cluster.isMaster) {
    cluster.on('online', (worker) => {
      console.log(`Worker ${worker.id} is online`);
      console.log(`PID: ${worker.process.pid}`);
    });

    cluster.fork();
  }
}

export function onlineEventPractical(): void {
  if (cluster.isMaster) {
    const workerStartupTimes = new Map<number, number>();

    cluster.on('fork', (worker) => {
      workerStartupTimes.set(worker.id, Date.now());
    });

    cluster.on('online', (worker) => {
      const startTime = workerStartupTimes.get(worker.id) ?? Date.now();
      const duration = Date.now() - startTime;

      console.log(`Worker ${worker.id} online after ${duration}ms`);

      // Send initial configuration
      worker.send({
        cmd: 'configure',
        config: {
          workerId: worker.id,
          maxConnections: 1000,
        },
      });

      // Alert if startup is slow
      if (duration > 5000) {
        console.warn(`WARNING: Slow worker startup (${duration}ms)`);
      }
    });

    cluster.fork();
  }
}

export function listeningEvent(): void {
  if (cluster.isMaster) {
    cluster.on('listening', (worker, address) => {
      console.log(`Worker ${worker.id} listening`);
      console.log('Address:', address);
      // address: { address: '0.0.0.0', port: 8000, addressType: 4 }
    });

    cluster.fork();
  }

  if (cluster.isWorker) {
    http.createServer((req, res) => {
      res.end('Hello');
    }).listen(8000); // Triggers 'listening' event
  }
}

export function listeningEventPractical(): void {
  if (cluster.isMaster) {
    const workerPorts = new Map<number, cluster.Address>();

    cluster.on('listening', (worker, address) => {
      workerPorts.set(worker.id, address);

      console.log(`✓ Worker ${worker.id} ready`);
      console.log(`  Address: ${address.address}:${address.port}`);
      console.log(`  Type: IPv${address.addressType}`);

      // Check if all workers are ready
      const totalWorkers = Object.keys(cluster.workers ?? {}).length;
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
}

export function disconnectEvent(): void {
  if (cluster.isMaster) {
    cluster.on('disconnect', (worker) => {
      console.log(`Worker ${worker.id} disconnected`);
      console.log(`IPC channel closed`);
    });

    const worker = cluster.fork();

    setTimeout(() => {
      worker.disconnect(); // Triggers 'disconnect' event
    }, 5000);
  }
}

export function disconnectEventPractical(): void {
  if (cluster.isMaster) {
    const workerStatus = new Map<number, 'active' | 'disconnecting'>();

    cluster.on('online', (worker) => {
      workerStatus.set(worker.id, 'active');
    });

    cluster.on('disconnect', (worker) => {
      console.log(`Worker ${worker.id} disconnecting...`);
      workerStatus.set(worker.id, 'disconnecting');

      // Remove from active pool
      console.log('Active workers:',
        Array.from(workerStatus.entries())
          .filter(([, status]) => status === 'active')
          .map(([id]) => id),
      );

      // Check if intentional shutdown
      if (worker.exitedAfterDisconnect) {
        console.log('  → Graceful shutdown');
      } else {
        console.log('  → Unexpected disconnect');
      }
    });

    // Create workers
    for (let i = 0; i < 4; i++) {
      cluster.fork();
    }

    // Gracefully disconnect one worker after 10 seconds
    setTimeout(() => {
      const worker = Object.values(cluster.workers ?? {})[0];
      worker?.disconnect();
    }, 10000);
  }
}

export function exitEvent(): void {
  if (cluster.isMaster) {
    cluster.on('exit', (worker, code, signal) => {
      console.log(`Worker ${worker.id} died`);
      console.log(`Exit code: ${code}`);
      console.log(`Signal: ${signal}`);
    });

    const worker = cluster.fork();
    console.log(worker.id);
  }
}

export function exitEventPractical(): void {
  if (cluster.isMaster) {
    const workerRestarts = new Map<number, number[]>();
    const MAX_RESTARTS = 5;
    const RESTART_WINDOW = 60000; // 1 minute

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
      const recentRestarts = restarts.filter((time) => now - time < RESTART_WINDOW);
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
}
