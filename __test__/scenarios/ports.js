'use strict';
// Differential scenario 3: port sharing. Two workers listen(0) with an HTTP server and
// get the same port; the primary sends 20 requests (which worker answers is up to the
// scheduler: only the count and that the answering ids are workers' is compared). Then
// worker 1 listens on listen(0, '127.0.0.1'), listen({ port: 0, host: '::1' }) (when
// ::1 can be bound here) and a Unix socket path, and the address objects are compared.
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');
const { cluster, log, snap } = require('../helpers/scenario-events.js');

const REQUESTS = 20;

function get(options) {
  return new Promise((resolve, reject) => {
    const req = http.get({ agent: false, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
  });
}

function canBindV6() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => server.close(() => resolve(true)));
  });
}

if (cluster.isPrimary) {
  const sock = path.join(os.tmpdir(), `rc-diff-${process.pid}-${Date.now().toString(36)}.sock`);
  /** The socket path is run-specific: show it as <sock>. */
  const hide = (value) => JSON.parse(JSON.stringify(value ?? null).split(JSON.stringify(sock).slice(1, -1)).join('<sock>'));
  const ports = {};
  const phase2 = [];

  cluster.on('listening', (w, address) => {
    log('listening', { ...snap(w), address: hide(address), addressKeys: Object.keys(address), fdIsUndefined: address.fd === undefined });
    if (w.id !== 1 || !ports.shared) {
      (ports.first ??= []).push(address.port);
      if (ports.first.length === 2) {
        ports.shared = ports.first[0];
        log('shared-port', { same: ports.first[0] === ports.first[1], positive: ports.first[0] > 0 });
        requests(ports.shared);
      }
      return;
    }
    phase2.push(address);
  });

  async function requests(port) {
    const answers = await Promise.all([...Array(REQUESTS)].map(() => get({ host: '127.0.0.1', port })));
    const ids = answers.map((a) => Number(a.body.split(':')[0]));
    log('answered', {
      count: answers.filter((a) => a.status === 200).length,
      idsAreWorkers: ids.every((id) => id === 1 || id === 2),
      bodiesSayShared: answers.every((a) => a.body.endsWith(`:${port}`)),
    });
    const v6 = await canBindV6();
    log('v6', { v6 });
    cluster.workers[1].send({ cmd: 'more', v6, sock });
  }

  cluster.on('message', async (w, message) => {
    if (message.cmd !== 'more-done') return;
    log('more-done', { worker: w.id, addresses: hide(message.addresses) });
    // One request to each of worker 1's own servers.
    for (const [i, address] of message.addresses.entries()) {
      const target = typeof address === 'string' ? { socketPath: address } : { host: address.address, port: address.port };
      const res = await get(target);
      log('answered-own', { worker: w.id, i, status: res.status, body: res.body.split(':')[0] });
    }
    log('sock-exists-before', { exists: fs.existsSync(sock) });
    cluster.disconnect(() => {
      log('disconnect-cb');
    });
  });

  let exits = 0;
  cluster.on('exit', (w, code, signal) => {
    log('exit', { worker: w.id, code, signal, exitedAfterDisconnect: w.exitedAfterDisconnect });
    if (++exits === 2) {
      // Node's primary owns the Unix socket (round-robin) and unlinks it on close.
      log('done', { sockExists: fs.existsSync(sock) });
      try { fs.unlinkSync(sock); } catch {}
    }
  });

  cluster.fork();
  cluster.fork();
} else {
  const w = cluster.worker;
  const handler = (port) => (req, res) => res.end(`${w.id}:${port}`);
  const shared = http.createServer();
  shared.listen(0, () => {
    const address = shared.address();
    shared.on('request', handler(address.port));
    log('server-listening', { address: { ...address, port: '<port>' }, portIsNumber: typeof address.port === 'number' });
  });

  process.on('message', async (message) => {
    if (message.cmd !== 'more') return;
    const listenings = [];
    const listen = (args, label) => new Promise((resolve) => {
      const server = http.createServer();
      server.on('request', (req, res) => res.end(`${w.id}:${label}`));
      server.once('error', (err) => {
        log('listen-error', { label, code: err.code });
        resolve(null);
      });
      server.listen(...args, () => {
        const address = server.address();
        log('own-listening', {
          label,
          address: typeof address === 'string' ? (address === message.sock ? '<sock>' : address) : { ...address, port: typeof address.port },
          state: w.state,
        });
        resolve(address);
      });
    });
    listenings.push(await listen([0, '127.0.0.1'], 'v4'));
    if (message.v6) listenings.push(await listen([{ port: 0, host: '::1' }], 'v6'));
    listenings.push(await listen([message.sock], 'unix'));
    process.send({ cmd: 'more-done', addresses: listenings });
  });
}
