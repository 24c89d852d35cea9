'use strict';
// The README's "Metrics" example: an app whose workers count requests with prom-client,
// exported with rust-cluster's own series on http://127.0.0.1:9100/metrics.
const cluster = require('rust-cluster');
const http = require('http');
const client = require('prom-client');

if (cluster.isPrimary) {
  cluster.setupPrimary({ metrics: { port: Number(process.env.METRICS_PORT ?? 9100) } });
  cluster.on('listening', (worker) => console.log(`worker ${worker.id} listening`));
  for (let i = 0; i < 2; i++) cluster.fork();
} else {
  // The workers' metrics, in prom-client's default registry: nothing else to write.
  const requests = new client.Counter({ name: 'http_requests_total', help: 'Requests served', labelNames: ['code'] });
  http.createServer((req, res) => {
    requests.inc({ code: 200 });
    res.end('hello\n');
  }).listen(Number(process.env.PORT ?? 8000));
}
