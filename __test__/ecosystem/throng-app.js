'use strict';
// throng (a real worker manager that uses require('cluster')), run with
// `node -r rust-cluster/register`: 2 workers with HTTP servers; GET /crash makes the worker
// exit with code 3 (throng forks a replacement); SIGTERM to the primary makes throng
// SIGTERM every worker, after which the primary's event loop must end by itself (the
// grace period that would force process.exit() is far beyond the test's timeout).
const throng = require('throng');
const cluster = require('cluster');
const http = require('http');

const out = (obj) => console.log(`@ ${JSON.stringify(obj)}`);

throng({
  count: 2,
  grace: 10 * 60 * 1000,
  master() {
    out({ ev: 'primary', sticky: cluster.SCHED_STICKY, rust: cluster === require('rust-cluster') });
    cluster.on('exit', (worker, code, signal) => out({ ev: 'exit', id: worker.id, pid: worker.process.pid, code, signal }));
    process.on('SIGTERM', () => out({ ev: 'sigterm', workers: Object.keys(cluster.workers).length }));
    process.on('exit', (code) => out({ ev: 'primary-exit', code }));
  },
  worker(id) {
    const server = http.createServer((req, res) => {
      if (req.url === '/crash') {
        res.end(`crash ${id}`, () => process.exit(3));
        return;
      }
      res.end(`${id} ${process.pid}`);
    });
    server.listen(0, () => out({ ev: 'listening', id, pid: process.pid, port: server.address().port }));
  },
});
