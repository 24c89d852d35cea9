// Guide 4, "Complete Event Monitoring Example", in TypeScript.
import cluster from 'rust-cluster';
import http from 'node:http';
import os from 'node:os';

if (cluster.isMaster) {
  console.log(`Master ${process.pid} starting\n`);

  // ========== EVENT HANDLERS ==========

  // 1. Setup
  cluster.on('setup', (settings) => {
    console.log('=== Setup ===');
    console.log('Settings:', settings);
    console.log();
  });

  // 2. Fork
  cluster.on('fork', (worker) => {
    console.log(`=== Fork ===`);
    console.log(`Worker ID: ${worker.id}`);
    console.log(`Process: ${worker.process.pid}`);
    console.log();
  });

  // 3. Online
  cluster.on('online', (worker) => {
    console.log(`=== Online ===`);
    console.log(`Worker ${worker.id} is online`);
    console.log(`State: ${worker.state}`);
    console.log();
  });

  // 4. Listening
  cluster.on('listening', (worker, address) => {
    console.log(`=== Listening ===`);
    console.log(`Worker ${worker.id} listening`);
    console.log(`Address: ${address.address}:${address.port}`);
    console.log(`Family: IPv${address.addressType}`);
    console.log();
  });

  // 5. Disconnect
  cluster.on('disconnect', (worker) => {
    console.log(`=== Disconnect ===`);
    console.log(`Worker ${worker.id} disconnected`);
    console.log(`Intentional: ${worker.exitedAfterDisconnect}`);
    console.log();
  });

  // 6. Exit
  cluster.on('exit', (worker, code, signal) => {
    console.log(`=== Exit ===`);
    console.log(`Worker ${worker.id} exited`);
    console.log(`Exit code: ${code}`);
    console.log(`Signal: ${signal}`);
    console.log(`Intentional: ${worker.exitedAfterDisconnect}`);
    console.log();

    // Auto-restart
    if (!worker.exitedAfterDisconnect) {
      console.log('Restarting worker...\n');
      cluster.fork();
    }
  });

  // 7. Message
  cluster.on('message', (worker, msg) => {
    console.log(`=== Message ===`);
    console.log(`From worker ${worker.id}:`, msg);
    console.log();
  });

  // ========== START WORKERS ==========

  const numCPUs = os.cpus().length;
  console.log(`Starting ${numCPUs} workers\n`);

  for (let i = 0; i < numCPUs; i++) {
    cluster.fork();
  }

  // ========== COMMANDS ==========

  // Demonstrate events
  setTimeout(() => {
    console.log('\n>>> Sending message to all workers\n');
    Object.values(cluster.workers ?? {}).forEach((worker) => {
      worker?.send({ cmd: 'ping' });
    });
  }, 5000);

  setTimeout(() => {
    console.log('\n>>> Disconnecting worker 1\n');
    cluster.workers?.[1]?.disconnect();
  }, 10000);
} else {
  // ========== WORKER PROCESS ==========
  const self = cluster.worker!;

  console.log(`Worker ${self.id} (${process.pid}) starting`);

  const server = http.createServer((req, res) => {
    res.writeHead(200);
    res.end(`Worker ${self.id}\n`);
  });

  server.listen(8000);

  // Handle messages from master
  process.on('message', (msg: { cmd?: string }) => {
    if (msg.cmd === 'ping') {
      process.send?.({
        cmd: 'pong',
        workerId: self.id,
        timestamp: Date.now(),
      });
    }
  });

  // Send initial status
  process.send?.({
    type: 'status',
    workerId: self.id,
    status: 'initialized',
  });
}
