'use strict';
// The subset run with each Node version as the primary (see ../ecosystem.test.js):
// spawn, messages both ways, listening + a served request, exits with a code and with a
// signal, disconnect. Workers are started with the primary's process.execPath.
const cluster = require('rust-cluster');
const http = require('http');
const { once } = require('events');

const out = (obj) => console.log(`@ ${JSON.stringify(obj)}`);

/** The worker's messages, one at a time, in order. */
function messages(worker) {
  const queue = [];
  const waiting = [];
  worker.on('message', (msg) => (waiting.length ? waiting.shift()(msg) : queue.push(msg)));
  return () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiting.push(resolve)));
}

function get(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

async function primary() {
  out({
    ev: 'primary',
    version: process.version,
    napi: process.versions.napi,
    execPath: process.execPath,
    sticky: cluster.SCHED_STICKY,
  });
  cluster.on('exit', (worker, code, signal) => out({
    ev: 'exit', role: worker.role, code, signal, exitedAfterDisconnect: worker.exitedAfterDisconnect,
  }));

  // spawn, messages both ways, listening and a served request
  const server = cluster.fork({ VERSIONS_ROLE: 'server' });
  server.role = 'server';
  const next = messages(server);
  const listening = once(server, 'listening');
  await once(server, 'online');
  out({ ev: 'online', id: server.id, pid: server.process.pid });
  out({ ev: 'message', msg: await next() });
  server.send({ ping: 41 });
  out({ ev: 'message', msg: await next() });
  const [address] = await listening;
  out({ ev: 'listening', port: address.port > 0 });
  out({ ev: 'response', ...(await get(address.port)) });

  // exit with a code
  const failing = cluster.fork({ VERSIONS_ROLE: 'exit-code' });
  failing.role = 'exit-code';
  const [code] = await once(failing, 'exit');
  out({ ev: 'worker-exit', role: 'exit-code', code, exitCode: failing.process.exitCode });

  // exit by a signal
  const victim = cluster.fork({ VERSIONS_ROLE: 'signal' });
  victim.role = 'signal';
  await once(victim, 'message');
  victim.process.kill('SIGTERM');
  const [, signal] = await once(victim, 'exit');
  out({ ev: 'worker-exit', role: 'signal', signal, signalCode: victim.process.signalCode });

  // disconnect: the server worker leaves, then the primary has nothing left to do
  cluster.on('disconnect', (worker) => out({ ev: 'disconnect', role: worker.role }));
  await new Promise((resolve) => cluster.disconnect(resolve));
  out({ ev: 'disconnected', workers: Object.keys(cluster.workers).length });
}

if (cluster.isPrimary) {
  primary().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  const role = process.env.VERSIONS_ROLE;
  if (role === 'server') {
    process.send({ hello: cluster.worker.id, version: process.version, execPath: process.execPath });
    process.on('message', (msg) => process.send({ pong: msg.ping + 1 }));
    http.createServer((req, res) => res.end(`${process.version} ${cluster.worker.id}`)).listen(0);
  } else if (role === 'exit-code') {
    process.exit(7);
  } else if (role === 'signal') {
    setInterval(() => {}, 1 << 30);
    process.send({ ready: true });
  }
}
