'use strict';
// Faults under load, default (round-robin) policy, real workers and real HTTP clients
// (one connection per request, agent: false): a worker SIGKILLed, a worker disconnected,
// and the fairness of round-robin over many short connections.
//
// The workers are driven through fixtures/listeners/cluster.js. For the SIGKILL test its
// workers log (FAULT_LOG=1), synchronously to stdout, "conn <id> <client port>" before
// Node's worker code acknowledges a connection to the primary, and "done <id> <client
// port>" once the response is written: after the worker is dead, its log says exactly
// which connections were inside it.
const test = require('node:test');
const assert = require('node:assert');
const http = require('node:http');
const { launch, mustListen } = require('./helpers/listeners.js');

const WORKERS = ['1', '2'];
const REQUEST_TIMEOUT = 30000;

/** One GET on a new connection; resolves (never rejects) with { i, ok, body, localPort, error }. */
function request(port, i) {
  return new Promise((resolve) => {
    const result = { i, ok: false };
    const req = http.get({ host: '127.0.0.1', port, path: `/${i}`, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ ...result, ok: res.statusCode === 200, body }));
      res.on('error', (err) => resolve({ ...result, error: err.code ?? err.message }));
    });
    req.on('socket', (socket) => socket.on('connect', () => { result.localPort = socket.localPort; }));
    req.setTimeout(REQUEST_TIMEOUT, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ ...result, error: err.code ?? err.message }));
  });
}

/** `total` requests, `concurrency` at a time; onDone(count of finished requests) after each. */
async function load(port, { total, concurrency, onDone = () => {} }) {
  const results = new Array(total);
  let next = 0;
  let finished = 0;
  const lane = async () => {
    while (next < total) {
      const i = next++;
      results[i] = await request(port, i);
      onDone(++finished);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return results;
}

async function listenHttp(c, ids) {
  const addresses = {};
  for (const id of ids) {
    addresses[id] = await mustListen(c, id, { op: 'listen', name: 'web', kind: 'http', options: { port: 0, host: '127.0.0.1' } });
  }
  const { port } = addresses[ids[0]];
  for (const id of ids) assert.strictEqual(addresses[id].port, port);
  return port;
}

// Each answer is "<worker id> web".
const workerOf = (r) => r.body.split(' ')[0];

/** Runs fn(); on failure, prints the end of the cluster's output. */
async function explained(t, c, fn) {
  try {
    return await fn();
  } catch (err) {
    t.diagnostic(`last lines of the cluster's output:\n${c.proc.lines.slice(-40).join('\n')}`);
    throw err;
  }
}

const tally = (results) => {
  const served = {};
  for (const r of results) if (r.ok) served[workerOf(r)] = (served[workerOf(r)] ?? 0) + 1;
  return served;
};

test('a worker SIGKILLed under load: only the connections inside it fail; it is replaced', async (t) => {
  const c = await launch(t, { env: { REFORK: '1', FAULT_LOG: '1' } });
  await explained(t, c, async () => {
    const port = await listenHttp(c, WORKERS);
    let killedAt = null;
    const results = await load(port, {
      total: 200,
      concurrency: 20,
      onDone: (finished) => {
        if (finished === 50) {
          killedAt = finished;
          process.kill(c.pids[1], 'SIGKILL');
        }
      },
    });
    assert.strictEqual(killedAt, 50);

    // The primary reports worker 1's exit after worker 1 is dead, so everything worker 1
    // wrote to the shared stdout pipe is in the output before that line.
    const exit = JSON.parse((await c.proc.waitFor(/"ev":"exit","worker":1,/)).line);
    assert.strictEqual(exit.signal, 'SIGKILL');
    assert.strictEqual(exit.exitedAfterDisconnect, false);

    const count = (kind, id) => {
      const byPort = new Map();
      for (const { match } of c.proc.grep(new RegExp(`^${kind} ${id} (\\d+)$`))) {
        byPort.set(Number(match[1]), (byPort.get(Number(match[1])) ?? 0) + 1);
      }
      return byPort;
    };
    const conn1 = count('conn', 1);
    const done1 = count('done', 1);
    const conn2 = count('conn', 2);
    // Inside worker 1 when it died: acknowledged to the primary, never answered.
    const inside = [...conn1].filter(([p, n]) => n > (done1.get(p) ?? 0)).map(([p]) => p);

    const failed = results.filter((r) => !r.ok);
    t.diagnostic(`served ${JSON.stringify(tally(results))}; failed ${failed.length} ` +
      `(${failed.map((f) => f.error).join(', ')}); inside worker 1 when killed: ${inside.length}`);
    for (const r of results.filter((x) => x.ok)) assert.ok(WORKERS.includes(workerOf(r)) && r.body.endsWith(' web'), `answer ${r.body}`);
    for (const f of failed) {
      assert.ok(f.localPort !== undefined, `request ${f.i} never connected: ${f.error}`);
      assert.ok(inside.includes(f.localPort),
        `request ${f.i} (client port ${f.localPort}, ${f.error}) failed but was not inside the killed worker` +
        ` (worker 1 conn: ${conn1.get(f.localPort) ?? 0}, done: ${done1.get(f.localPort) ?? 0};` +
        ` worker 2 conn: ${conn2.get(f.localPort) ?? 0})`);
      assert.ok(!conn2.has(f.localPort), `request ${f.i} was handed to both workers`);
    }
    assert.ok(failed.length <= inside.length);

    // A replacement is forked, comes online, and joins the server.
    const online = JSON.parse((await c.proc.waitFor(/"ev":"online","worker":3,/)).line);
    assert.ok(online.pid > 0);
    const joined = await mustListen(c, '3', { op: 'listen', name: 'web', kind: 'http', options: { port: 0, host: '127.0.0.1' } });
    assert.strictEqual(joined.port, port, 'the replacement joins the existing server');
    const after = await load(port, { total: 6, concurrency: 1 });
    assert.ok(after.every((r) => r.ok), JSON.stringify(after));
    assert.deepStrictEqual(Object.keys(tally(after)).sort(), ['2', '3']);
  });
});

test('a worker disconnected under load: no request fails', async (t) => {
  const c = await launch(t);
  await explained(t, c, async () => {
    const port = await listenHttp(c, WORKERS);
    let disconnecting = null;
    const results = await load(port, {
      total: 200,
      concurrency: 20,
      onDone: (finished) => {
        if (finished === 50) disconnecting = c.request({ op: 'disconnect', worker: 1 });
      },
    });
    assert.deepStrictEqual(await disconnecting, { ok: true });
    const exit = JSON.parse((await c.proc.waitFor(/"ev":"exit","worker":1,/)).line);
    assert.deepStrictEqual({ code: exit.code, signal: exit.signal, exitedAfterDisconnect: exit.exitedAfterDisconnect },
      { code: 0, signal: null, exitedAfterDisconnect: true });
    const failed = results.filter((r) => !r.ok);
    const served = tally(results);
    t.diagnostic(`served ${JSON.stringify(served)}`);
    assert.deepStrictEqual(failed, []);
    assert.ok(served[1] >= 1 && served[2] >= 1, JSON.stringify(served));
    // Worker 2 alone serves what comes next.
    const after = await load(port, { total: 4, concurrency: 2 });
    assert.deepStrictEqual(tally(after), { 2: 4 });
  });
});

// The round-robin of Node's RoundRobinHandle gives a worker the next connection once it
// has taken the previous one: under concurrency the split follows how fast each worker
// takes them. The bound is loose on purpose: on a loaded 2-core machine a worker that is
// descheduled for a while takes fewer (work-conserving, not unfair); the fairness figure
// itself is measured by `npm run bench` (busiest worker %), never timed here. Node's
// built-in runs the same scenario as the reference.
for (const impl of ['rust', 'builtin']) {
  test(`fairness: 2,000 short connections, each of 2 workers serves at least 20 % (${impl})`, async (t) => {
    const c = await launch(t, { impl });
    await explained(t, c, async () => {
      const port = await listenHttp(c, WORKERS);
      const results = await load(port, { total: 2000, concurrency: 16 });
      const served = tally(results);
      t.diagnostic(`served ${JSON.stringify(served)}`);
      assert.deepStrictEqual(results.filter((r) => !r.ok), []);
      for (const id of WORKERS) assert.ok(served[id] >= 400, `worker ${id} served ${served[id]} of 2000: ${JSON.stringify(served)}`);
    });
  });
}
