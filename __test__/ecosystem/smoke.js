'use strict';
// Copied into a fresh project where the packed tarball was installed (see
// ../ecosystem.test.js): two workers with HTTP servers on port 0, one request, disconnect.
const cluster = require('rust-cluster');
const http = require('http');

const out = (obj) => console.log(`@ ${JSON.stringify(obj)}`);

if (cluster.isPrimary) {
  out({ ev: 'primary', resolved: require.resolve('rust-cluster'), sticky: cluster.SCHED_STICKY });
  let listening = 0;
  cluster.on('listening', (worker, address) => {
    if (++listening < 2) return;
    http.get({ host: '127.0.0.1', port: address.port, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => {
        out({ ev: 'response', status: res.statusCode, body });
        cluster.disconnect(() => out({ ev: 'disconnected' }));
      });
    });
  });
  cluster.on('exit', (worker, code, signal) => out({ ev: 'exit', id: worker.id, code, signal }));
  cluster.fork();
  cluster.fork();
} else {
  http.createServer((req, res) => res.end(`worker ${cluster.worker.id}`)).listen(0);
}
