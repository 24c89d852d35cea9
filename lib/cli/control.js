'use strict';
// The control socket of `rust-cluster --control <path>`: a Unix socket, mode 0600, whose
// every peer's uid is checked (SO_PEERCRED: the primary's own user, or root); one JSON
// line in, one JSON line out. The status, reload, scale and stop commands are its clients.
const fs = require('fs');
const net = require('net');

function peerUid(socket) {
  const fd = socket._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return null;
  return require('../binding').peerCredentials(fd)?.uid ?? null;
}

/** Is something answering on `path`? */
function answering(path) {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** Serves `handlers[cmd](request)` (each returns a value or a promise) on `path`. */
async function serve(path, handlers) {
  if (fs.existsSync(path)) {
    if (await answering(path)) throw new Error(`control socket ${path} is in use by another primary`);
    fs.unlinkSync(path); // left by a primary that died
  }
  const server = net.createServer((socket) => {
    const uid = peerUid(socket);
    const reply = (message) => socket.end(`${JSON.stringify(message)}\n`);
    if (uid === null || (uid !== process.getuid() && uid !== 0)) {
      reply({ ok: false, error: 'permission denied' });
      return;
    }
    let input = '';
    socket.setEncoding('utf8');
    socket.on('data', async (chunk) => {
      input += chunk;
      if (input.length > 65536) return socket.destroy();
      const newline = input.indexOf('\n');
      if (newline === -1) return;
      socket.removeAllListeners('data');
      let request;
      try {
        request = JSON.parse(input.slice(0, newline));
      } catch {
        return reply({ ok: false, error: 'not JSON' });
      }
      const handler = Object.hasOwn(handlers, request?.cmd) ? handlers[request.cmd] : undefined;
      if (!handler) return reply({ ok: false, error: `unknown command ${JSON.stringify(request?.cmd)}` });
      try {
        reply({ ok: true, ...(await handler(request)) });
      } catch (err) {
        reply({ ok: false, error: err.message });
      }
    });
    socket.on('error', () => {});
  });
  // Created 0600 (no moment with wider permissions), then checked.
  const umask = process.umask(0o177);
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    });
  } finally {
    process.umask(umask);
  }
  fs.chmodSync(path, 0o600);
  server.unref();
  return server;
}

/** Sends one request; resolves with the answer. */
function request(path, message) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    let input = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(message)}\n`));
    socket.on('data', (chunk) => { input += chunk; });
    socket.on('end', () => {
      try {
        resolve(JSON.parse(input));
      } catch {
        reject(new Error(`no answer from ${path}`));
      }
    });
    socket.on('error', (err) => reject(new Error(`cannot reach the primary at ${path}: ${err.code ?? err.message}`)));
  });
}

module.exports = { serve, request };
