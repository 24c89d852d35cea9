'use strict';
// sticky-session (balances connections by client IP from a plain net.Server in the
// primary, handing each socket to a worker with worker.send(msg, socket)), run with
// `node -r rust-cluster/register`. PORT is given by the test (sticky-session cannot
// report a port 0 listener's port).
const sticky = require('sticky-session');
const cluster = require('cluster');
const http = require('http');

const out = (obj) => console.log(`@ ${JSON.stringify(obj)}`);

const server = http.createServer((req, res) => {
  res.end(JSON.stringify({ worker: cluster.worker.id, pid: process.pid, remote: req.socket.remoteAddress }));
});

if (!sticky.listen(server, Number(process.env.PORT), { workers: 2 })) {
  out({ ev: 'primary', sticky: cluster.SCHED_STICKY });
  server.once('listening', () => out({ ev: 'listening' }));
  cluster.on('online', (worker) => out({ ev: 'online', id: worker.id }));
} else {
  out({ ev: 'worker', id: cluster.worker.id });
}
