'use strict';
// Fallback HTTP load generator, used only when wrk is not installed.
//   node loadgen.js <port> <connections> <seconds> <keepalive|close>
// Prints one "@bench" result: { requests, seconds, rps, p99Ms, errors }.
const http = require('node:http');
const { emit, now } = require('./common');

const [port, connections, seconds, mode] = process.argv.slice(2);
const keepAlive = mode !== 'close';
const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: Number(connections) }) : false;
const headers = keepAlive ? {} : { Connection: 'close' };
const latencies = [];
let errors = 0;
const t0 = now();
const end = t0 + Number(seconds) * 1000;

function loop() {
  if (now() >= end) return done();
  const started = now();
  const req = http.get({ host: '127.0.0.1', port: Number(port), path: '/', agent, headers }, (res) => {
    res.resume();
    res.on('end', () => {
      latencies.push(now() - started);
      loop();
    });
  });
  req.on('error', () => {
    errors++;
    setImmediate(loop);
  });
}

let running = Number(connections);
function done() {
  if (--running > 0) return;
  const elapsed = (now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const p99Ms = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? null;
  emit('result', { requests: latencies.length, seconds: elapsed, rps: latencies.length / elapsed, p99Ms, errors });
  process.exit(0);
}

for (let i = 0; i < Number(connections); i++) loop();
