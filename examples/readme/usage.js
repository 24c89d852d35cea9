const cluster = require('rust-cluster');   // was: require('cluster')
const http = require('http');

if (cluster.isPrimary) {
  cluster.on('exit', (worker, code, signal) => {
    if (!worker.exitedAfterDisconnect) cluster.fork();
  });
  for (let i = 0; i < 2; i++) cluster.fork();
} else {
  http.createServer((req, res) => res.end(`worker ${cluster.worker.id}\n`)).listen(process.env.PORT || 8000);
}
