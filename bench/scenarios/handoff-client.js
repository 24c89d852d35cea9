'use strict';
// The connection client of the handoff suite when ../shared/limits/handoff.c is not there
// (as in CI): node handoff-client.js <port> <connections> <in flight>
// Opens <connections> TCP connections to 127.0.0.1:<port>, <in flight> at a time; on each
// it writes a few bytes, reads until the server's end ('x'), closes. Prints one "@bench"
// result { conns, seconds, connsPerSecond, errors }.
const net = require('node:net');
const { emit, now } = require('./common');

const [port, total, inFlight] = process.argv.slice(2).map(Number);
let started = 0;
let done = 0;
let errors = 0;
const t0 = now();

function next() {
  if (started >= total) return;
  started++;
  let failed = false;
  const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.0\r\n\r\n'));
  socket.resume(); // read (and drop) the 'x'; the server's FIN ends the socket
  socket.on('error', () => { failed = true; });
  socket.on('close', () => {
    if (failed) errors++;
    if (++done === total) finish();
    else next();
  });
}

function finish() {
  const seconds = (now() - t0) / 1000;
  emit('result', { conns: total, seconds, connsPerSecond: total / seconds, errors });
  process.exit(0);
}

for (let i = 0; i < Math.min(inFlight, total); i++) next();
