// Guide 4 "Cluster Events", 3. 'listening' Event (basic example).
// Changes from the guide: the require line is added; the port comes from PORT
// (default 8000). Runs until stopped.
const cluster = require('rust-cluster'); // added: the snippet has no require line

if (cluster.isMaster) {
  cluster.on('listening', (worker, address) => {
    console.log(`Worker ${worker.id} listening`);
    console.log('Address:', address);
    // address: { address: '0.0.0.0', port: 8000, addressType: 4 }
  });

  cluster.fork();
}

if (cluster.isWorker) {
  const http = require('http');
  http.createServer((req, res) => {
    res.end('Hello');
  }).listen(Number(process.env.PORT ?? 8000)); // Triggers 'listening' event
}
