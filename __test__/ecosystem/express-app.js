'use strict';
// An express app served by 2 workers, run with `node -r rust-cluster/register` (the app
// uses require('cluster')). The primary prints the port once both workers listen, and on
// SIGTERM disconnects the workers and lets its event loop end.
const cluster = require('cluster');
const express = require('express');

const out = (obj) => console.log(`@ ${JSON.stringify(obj)}`);

if (cluster.isPrimary) {
  let listening = 0;
  cluster.on('listening', (worker, address) => {
    if (++listening === 2) out({ ev: 'ready', port: address.port, sticky: cluster.SCHED_STICKY });
  });
  cluster.on('exit', (worker, code, signal) => out({ ev: 'exit', id: worker.id, code, signal }));
  process.on('SIGTERM', () => cluster.disconnect(() => out({ ev: 'disconnected' })));
  cluster.fork();
  cluster.fork();
} else {
  const app = express();
  app.use(express.json());
  app.get('/item/:n', (req, res) => res.json({ n: Number(req.params.n), worker: cluster.worker.id }));
  app.post('/echo', (req, res) => res.status(200).json({ echo: req.body, worker: cluster.worker.id }));
  app.listen(0);
}
