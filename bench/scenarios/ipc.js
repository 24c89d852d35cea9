'use strict';
// IPC between the primary and its workers. BENCH_MODE selects the test:
//   pingpong   round trips of a small object, primary <-> 1 worker (BENCH_N, default 20000)
//   pingpong-http  the same with a worker that serves HTTP and has been handed 20
//              round-robin connections first (a typical worker's channel)
//   oneway     small messages worker -> primary (BENCH_N, default 200000), first to last received
//   bulk       64 KiB strings worker -> primary (BENCH_N, default 1000), first to last received
//   broadcast  primary sends to 4 workers, waits for every ack, repeats (BENCH_N, default 5000)
// Each result also has cpuUs: the primary's CPU (user + system, all its threads) per round
// trip, message or broadcast of the measured part.
// Sends one "result" message and exits.
const cluster = require('rust-cluster');
const { emit, intEnv, now } = require('./common');

const MODE = process.env.BENCH_MODE;
const DEFAULT_N = { pingpong: 20000, 'pingpong-http': 20000, oneway: 200000, bulk: 1000, broadcast: 5000 };
const N = intEnv('BENCH_N', DEFAULT_N[MODE]);
const WARMUP = 500;
const BULK_BYTES = 64 * 1024;

if (cluster.isPrimary) {
  if (!(MODE in DEFAULT_N)) throw new Error(`unknown BENCH_MODE ${MODE}`);
  const count = MODE === 'broadcast' ? 4 : 1;
  const workers = [];
  for (let i = 0; i < count; i++) workers.push(cluster.fork());
  let ready = 0;
  for (const worker of workers) {
    worker.once('message', async (message) => {
      if (message.port) await connections(message.port, 20);
      if (message.ready && ++ready === count) run(workers).catch((err) => {
        console.error(err);
        process.exit(1);
      });
    });
  }
} else {
  worker();
}

function finish(result) {
  emit('result', { mode: MODE, n: N, ...result });
  cluster.disconnect(() => process.exit(0));
}

/** `count` HTTP requests to `port`, each on a new connection. */
async function connections(port, count) {
  const http = require('node:http');
  for (let i = 0; i < count; i++) {
    await new Promise((resolve, reject) => {
      http.get({ port, host: '127.0.0.1', agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
  }
}

/** Resolves after `rounds` request/ack exchanges with every worker. */
function exchange(workers, rounds) {
  return new Promise((resolve) => {
    let i = 0;
    let acks = 0;
    const payload = { cmd: 'ping', i: 0, text: 'hello' };
    const onAck = () => {
      if (++acks < workers.length) return;
      acks = 0;
      if (++i === rounds) {
        for (const w of workers) w.off('message', onAck);
        resolve();
        return;
      }
      payload.i = i;
      for (const w of workers) w.send(payload);
    };
    for (const w of workers) w.on('message', onAck);
    for (const w of workers) w.send(payload);
  });
}

/** Asks the worker for `n` messages; resolves with ms between the first and the last. */
function receive(worker, n, what) {
  return new Promise((resolve) => {
    let received = 0;
    let first = 0;
    const onMessage = () => {
      received++;
      if (received === 1) first = now();
      if (received === n) {
        worker.off('message', onMessage);
        resolve(now() - first);
      }
    };
    worker.on('message', onMessage);
    worker.send({ cmd: what, n });
  });
}

/** The primary's CPU µs (all threads) since `from`, a process.cpuUsage(), per unit. */
function cpuUsPer(from, units) {
  const { user, system } = process.cpuUsage(from);
  return (user + system) / units;
}

async function run(workers) {
  switch (MODE) {
    case 'pingpong':
    case 'pingpong-http':
    case 'broadcast': {
      await exchange(workers, WARMUP);
      const t0 = now();
      const cpu0 = process.cpuUsage();
      await exchange(workers, N);
      const ms = now() - t0;
      return finish({ ms, perSecond: (N * 1000) / ms, cpuUs: cpuUsPer(cpu0, N) });
    }
    case 'oneway': {
      await receive(workers[0], WARMUP, 'small');
      const cpu0 = process.cpuUsage();
      const ms = await receive(workers[0], N, 'small');
      return finish({ ms, perSecond: ((N - 1) * 1000) / ms, cpuUs: cpuUsPer(cpu0, N) });
    }
    case 'bulk': {
      await receive(workers[0], 20, 'bulk');
      const cpu0 = process.cpuUsage();
      const ms = await receive(workers[0], N, 'bulk');
      return finish({ ms, mbPerSecond: ((N - 1) * BULK_BYTES) / 1e6 / (ms / 1000), cpuUs: cpuUsPer(cpu0, N) });
    }
    default:
  }
}

function worker() {
  const big = 'x'.repeat(BULK_BYTES);
  process.on('message', (message) => {
    switch (message.cmd) {
      case 'ping':
        process.send({ ack: message.i });
        break;
      case 'small':
        for (let i = 0; i < message.n; i++) process.send({ i, text: 'hello' });
        break;
      case 'bulk':
        for (let i = 0; i < message.n; i++) process.send(big);
        break;
      default:
    }
  });
  if (MODE === 'pingpong-http') {
    const server = require('node:http').createServer((req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1', () => process.send({ ready: true, port: server.address().port }));
  } else {
    process.send({ ready: true });
  }
}
