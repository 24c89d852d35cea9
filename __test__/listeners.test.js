'use strict';
// Listeners in workers, with real workers and real clients, under each scheduling policy:
// TCP (IPv4, IPv6, dual-stack, explicit hosts, ipv6Only, backlog, port 0, several servers
// per worker; net/http/https/tls), Unix domain sockets, UDP, the bypasses (exclusive,
// listen({fd}), reusePort), and a handle's lifetime (close/listen again, bind errors).
// Each scenario is also run with Node's built-in cluster where that says what is right.
//
// The workers are driven by the test through fixtures/listeners/cluster.js (a control
// connection to the primary, relayed to the workers); every server answers a client with
// "<worker id> <server name>". "Both workers serve" is established without timing:
//   rr         sequential connections alternate between the free workers;
//   none       (one socket shared by the workers) the other worker is SIGSTOPped, so only
//              the one under test can accept;
//   reuseport  the kernel hashes each connection to a worker's socket: 24 connections;
//   sticky     12 client addresses (127.0.0.1-12); from ::1 every connection goes to the
//              same worker.
const test = require('node:test');
const assert = require('node:assert');
const dgram = require('node:dgram');
const dns = require('node:dns');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const {
  launch, mustListen, ask, refused, askUdp, withOnly, hasIPv6, makeCert, tcpListeners,
} = require('./helpers/listeners.js');

const WORKERS = ['1', '2'];
const [NODE_MAJOR, NODE_MINOR] = process.versions.node.split('.').map(Number);

/**
 * The ids of the workers that served `kind` clients of `target`, established as described
 * above; every answer must come from the server called `name`.
 */
async function servedBy(c, policy, kind, target, name) {
  const seen = [];
  const v6 = target.host !== undefined && net.isIPv6(target.host);
  const askId = async (to) => {
    const answer = await ask(kind, to);
    const [id, server] = answer.split(' ');
    assert.strictEqual(server, name, `${kind} ${JSON.stringify(to)} was answered by ${JSON.stringify(answer)}`);
    assert.ok(WORKERS.includes(id), `unexpected answer ${JSON.stringify(answer)}`);
    return id;
  };
  switch (policy) {
    case 'rr':
      for (let i = 0; i < 4; i++) seen.push(await askId(target));
      break;
    case 'none':
      for (const id of Object.keys(c.pids)) {
        const got = await withOnly(c.pids, id, () => askId(target));
        assert.strictEqual(got, id, `with only worker ${id} running, ${kind} ${JSON.stringify(target)} was served by ${got}`);
        seen.push(got);
      }
      break;
    case 'reuseport':
      for (let i = 0; i < 24; i++) seen.push(await askId(target));
      break;
    case 'sticky':
      if (v6) {
        for (let i = 0; i < 4; i++) seen.push(await askId(target));
        assert.strictEqual(new Set(seen).size, 1, `::1 was served by ${seen}`);
      } else {
        for (let i = 1; i <= 12; i++) {
          const localAddress = `127.0.0.${i}`;
          const a = await askId({ ...target, localAddress });
          const b = await askId({ ...target, localAddress });
          assert.strictEqual(a, b, `client ${localAddress} was served by ${a} then ${b}`);
          seen.push(a);
        }
      }
      break;
    default:
      throw new Error(`policy ${policy}`);
  }
  return seen;
}

/** Asserts that every worker's server `name` served `target` (sticky from ::1: one worker). */
async function assertServedByAll(c, policy, kind, target, name) {
  const seen = await servedBy(c, policy, kind, target, name);
  const v6 = target.host !== undefined && net.isIPv6(target.host);
  if (policy === 'sticky' && v6) return;
  assert.deepStrictEqual([...new Set(seen)].sort(), WORKERS,
    `${kind} clients of ${JSON.stringify(target)} were served by ${seen.join(',')}`);
}

/** t.test, printing the end of the cluster's output when the subtest fails. */
async function sub(t, c, title, options, fn) {
  if (typeof options === 'function') [options, fn] = [{}, options];
  return t.test(title, options, async (st) => {
    try {
      return await fn(st);
    } catch (err) {
      st.diagnostic(`last lines of the cluster's output:\n${c.proc.lines.slice(-40).join('\n')}`);
      throw err;
    }
  });
}

/** Open the same listener in every worker (sequentially in each); resolves with { worker id: address }. */
async function listenAll(c, msg) {
  const out = {};
  for (const id of WORKERS) out[id] = await mustListen(c, id, { op: 'listen', ...msg });
  return out;
}

// ---- TCP ----

const POLICIES = [
  ['rr', 'rust'], ['rr', 'builtin'], ['none', 'rust'], ['none', 'builtin'], ['reuseport', 'rust'], ['sticky', 'rust'],
];

for (const [policy, impl] of POLICIES) {
  test(`TCP listeners, ${policy} (${impl})`, async (t) => {
    const v6 = await hasIPv6();
    const cert = makeCert(t);
    const localhost = (await dns.promises.lookup('localhost')).address;
    const c = await launch(t, { impl, policy });

    // name, listen options, server kind, expected address, hosts it must serve, hosts it must refuse
    const specs = [
      { name: 'v4', kind: 'net', options: { port: 0, host: '127.0.0.1' }, address: '127.0.0.1', reach: ['127.0.0.1'] },
      { name: 'v6', kind: 'net', v6: true, options: { port: 0, host: '::1' }, address: '::1', reach: ['::1'] },
      {
        name: 'dual', kind: 'net', options: { port: 0 }, address: v6 ? '::' : '0.0.0.0',
        reach: v6 ? ['127.0.0.1', '::1'] : ['127.0.0.1'],
      },
      { name: 'any4', kind: 'net', options: { port: 0, host: '0.0.0.0' }, address: '0.0.0.0', reach: ['127.0.0.1', '127.0.0.9'] },
      { name: 'any6', kind: 'net', v6: true, options: { port: 0, host: '::' }, address: '::', reach: ['127.0.0.1', '::1'] },
      {
        name: 'v6only', kind: 'net', v6: true, options: { port: 0, host: '::', ipv6Only: true }, address: '::',
        reach: ['::1'], v6only: true,
      },
      { name: 'localhost', kind: 'net', options: { port: 0, host: 'localhost' }, address: localhost, reach: [localhost] },
      { name: 'backlog', kind: 'net', options: { port: 0, host: '127.0.0.2', backlog: 7 }, address: '127.0.0.2', reach: ['127.0.0.2'] },
      { name: 'pairA', kind: 'net', options: { port: 0, host: '127.0.0.3' }, address: '127.0.0.3', reach: ['127.0.0.3'] },
      { name: 'pairB', kind: 'net', options: { port: 0, host: '127.0.0.3' }, address: '127.0.0.3', reach: ['127.0.0.3'] },
      { name: 'http', kind: 'http', options: { port: 0, host: '127.0.0.4' }, address: '127.0.0.4', reach: ['127.0.0.4'] },
      { name: 'https', kind: 'https', tls: true, options: { port: 0, host: '127.0.0.5' }, address: '127.0.0.5', reach: ['127.0.0.5'] },
      { name: 'tls', kind: 'tls', tls: true, options: { port: 0, host: '127.0.0.6' }, address: '127.0.0.6', reach: ['127.0.0.6'] },
    ];
    const skipReason = (s) => (s.v6 && !v6 ? '::1 cannot be bound here' : s.tls && !cert ? 'no openssl' : false);
    const active = specs.filter((s) => !skipReason(s));

    // Each worker opens every listener, one after the other, in the same order (several
    // listens with one address and port 0 are told apart by their order, as in Node).
    // A failed listen is reported by the subtest of that listener.
    const results = { 1: {}, 2: {} };
    await Promise.all(WORKERS.map(async (id) => {
      for (const s of active) {
        results[id][s.name] = await c.call(id, { op: 'listen', name: s.name, kind: s.kind, options: s.options, tls: cert });
      }
    }));
    const addressOf = (id, name) => {
      const r = results[id][name];
      assert.ok(!r.error, `worker ${id} could not listen (${name}): ${JSON.stringify(r.error)}`);
      return r.address;
    };
    const portOf = (name) => addressOf(1, name).port;

    const check = async (name, title) => {
      const s = specs.find((x) => x.name === name);
      await sub(t, c, title, { skip: skipReason(s) }, async () => {
        const [a1, a2] = [addressOf(1, name), addressOf(2, name)];
        assert.strictEqual(a1.address, s.address);
        assert.strictEqual(a1.family, net.isIPv6(s.address) ? 'IPv6' : 'IPv4');
        assert.ok(a1.port > 0);
        assert.deepStrictEqual(a2, a1, 'both workers listen on one port');
        for (const host of s.reach) await assertServedByAll(c, policy, s.kind, { host, port: a1.port }, name);
        if (s.v6only) {
          // The socket itself is IPv6-only ([::]:port, not *:port) ...
          const sockets = tcpListeners(a1.port);
          if (sockets !== null) {
            const wildcard = sockets.filter((x) => x.local === `[::]:${a1.port}` || x.local === `*:${a1.port}`);
            assert.ok(wildcard.length >= 1, `ss shows no listener on port ${a1.port}`);
            assert.deepStrictEqual(wildcard.map((x) => x.local), wildcard.map(() => `[::]:${a1.port}`));
          }
          // ... so nothing answers on 127.0.0.1:port (unless some other IPv4 socket has the
          // same port number, which an IPv6-only socket does not prevent).
          const v4 = tcpListeners(a1.port, '4');
          if (v4 === null || v4.length === 0) {
            assert.strictEqual(await refused({ host: '127.0.0.1', port: a1.port }), 'ECONNREFUSED');
          } else {
            t.diagnostic(`port ${a1.port} is also used on IPv4 (${JSON.stringify(v4)}): connection check skipped`);
          }
        }
      });
    };

    await check('v4', 'IPv4 127.0.0.1');
    await check('v6', 'IPv6 ::1');
    await check('dual', 'listen(0): the default dual-stack bind is reachable on 127.0.0.1 and ::1');
    await check('any4', 'explicit host 0.0.0.0');
    await check('any6', 'explicit host :: (dual-stack)');
    await check('v6only', 'ipv6Only: true is not reachable on IPv4');
    await check('localhost', `host name localhost (${localhost})`);
    await check('backlog', 'backlog: 7 reaches the listening socket');
    await sub(t, c, 'backlog: 7 is the listen backlog (ss Send-Q)', { skip: tcpListeners(1) === null && 'no ss' }, () => {
      const port = portOf('backlog');
      const seen = tcpListeners(port).filter((x) => x.local === `127.0.0.2:${port}`).map((x) => x.backlog);
      assert.ok(seen.length >= 1, 'no listener found by ss');
      assert.deepStrictEqual(seen, seen.map(() => 7));
    });
    await sub(t, c, 'several servers per worker: two listens get distinct ports, both serve', async () => {
      assert.notStrictEqual(portOf('pairA'), portOf('pairB'));
      assert.deepStrictEqual(addressOf(2, 'pairA'), addressOf(1, 'pairA'));
      assert.deepStrictEqual(addressOf(2, 'pairB'), addressOf(1, 'pairB'));
      await assertServedByAll(c, policy, 'net', { host: '127.0.0.3', port: portOf('pairA') }, 'pairA');
      await assertServedByAll(c, policy, 'net', { host: '127.0.0.3', port: portOf('pairB') }, 'pairB');
    });
    await check('http', 'http server');
    await check('https', 'https server (self-signed)');
    await check('tls', 'tls server (self-signed)');
  });
}

// ---- Unix sockets, UDP, bypasses, handle lifetime ----

// `${policy} ${impl}` -> the errors of the bind-error scenarios, compared at the end.
const bindErrors = {};

/** An error as a worker reported it, without what differs from run to run (the port). */
function normalized(error, port) {
  const out = { ...error };
  if (out.port === port) out.port = '<port>';
  out.message = out.message.split(String(port)).join('<port>');
  return out;
}

function unprivilegedPortStart() {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  } catch {
    return 1024;
  }
}

for (const [policy, impl] of POLICIES) {
  // Unix sockets and UDP do not depend on rust-cluster's TCP-only policies (UDP is always
  // shared; under sticky every Unix client is the same "address").
  const tcpOnly = policy === 'reuseport' || policy === 'sticky';

  test(`Unix sockets, UDP, bypasses, handle lifetime, ${policy} (${impl})`, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-l-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const v6 = await hasIPv6();
    // The primary (and so every worker) runs in `dir` with umask 077.
    const c = await launch(t, { impl, policy, cwd: dir, env: { UMASK: '077' } });

    if (!tcpOnly) {
      const A = path.join(dir, 'a.sock');
      const B = path.join(dir, 'b.sock');
      const R = 'rel.sock';
      const addresses = {};
      await sub(t, c, 'Unix: listen(path) in both workers', async () => {
        addresses.a = await listenAll(c, { name: 'ua', kind: 'net', options: { path: A, readableAll: true, writableAll: true } });
        addresses.b = await listenAll(c, { name: 'ub', kind: 'http', options: { path: B, readableAll: true } });
        addresses.r = await listenAll(c, { name: 'ur', kind: 'net', options: { path: R } });
      });
      await sub(t, c, 'Unix: server.address() in the worker is the path', () => {
        assert.deepStrictEqual(addresses.a, { 1: A, 2: A });
        assert.deepStrictEqual(addresses.b, { 1: B, 2: B });
        assert.deepStrictEqual(addresses.r, { 1: R, 2: R });
      });
      // Node applies them where the primary listens (rr); with SCHED_NONE the worker's
      // net.Server returns before its chmod (the handle comes later from the primary) and
      // the primary's shared handle does not apply them: the socket keeps the umask's mode.
      const applied = policy !== 'none';
      await sub(t, c, `Unix: readableAll / writableAll ${applied ? 'set the mode bits' : 'are not applied (as in Node)'}`, () => {
        const mode = (p) => {
          const st = fs.statSync(p);
          assert.ok(st.isSocket(), `${p} is not a socket`);
          return (st.mode & 0o777).toString(8);
        };
        assert.strictEqual(mode(A), applied ? '766' : '700');
        assert.strictEqual(mode(B), applied ? '744' : '700');
        assert.strictEqual(mode(path.join(dir, R)), '700');
      });
      await sub(t, c, 'Unix: one socket, served by both workers (net, http, relative path)', async () => {
        await assertServedByAll(c, policy, 'net', { path: A }, 'ua');
        await assertServedByAll(c, policy, 'http', { path: B }, 'ub');
        await assertServedByAll(c, policy, 'net', { path: path.join(dir, R) }, 'ur');
      });
      await sub(t, c, 'Unix: the path is removed when the last worker closes it, and can be listened on again', async () => {
        assert.deepStrictEqual(await c.call('1', { op: 'close', name: 'ua' }), { closed: true });
        assert.ok(fs.existsSync(A), 'removed while worker 2 still listens');
        assert.strictEqual(await ask('net', { path: A }), '2 ua');
        assert.strictEqual(await ask('net', { path: A }), '2 ua');
        // The worker's close reaches the primary before the worker's answer does.
        assert.deepStrictEqual(await c.call('2', { op: 'close', name: 'ua' }), { closed: true });
        assert.ok(!fs.existsSync(A), 'still there after the last worker closed it');
        assert.strictEqual(await refused({ path: A }), 'ENOENT');
        assert.strictEqual(await mustListen(c, '1', { op: 'listen', name: 'ua', kind: 'net', options: { path: A } }), A);
        assert.strictEqual(await ask('net', { path: A }), '1 ua');
      });

      for (const type of ['udp4', 'udp6']) {
        const host = type === 'udp4' ? '127.0.0.1' : '::1';
        await sub(t, c, `UDP ${type}: bind(0) in both workers shares one socket; the last close releases the port`,
          { skip: type === 'udp6' && !v6 && '::1 cannot be bound here' }, async () => {
            const name = `dgram-${type}`;
            const a = {};
            for (const id of WORKERS) a[id] = await mustListen(c, id, { op: 'bind', name, type, options: { port: 0 } });
            assert.deepStrictEqual(a[2], a[1], 'both workers are bound to one port');
            assert.strictEqual(a[1].address, type === 'udp4' ? '0.0.0.0' : '::');
            const { port } = a[1];
            for (const id of WORKERS) {
              assert.strictEqual(await withOnly(c.pids, id, () => askUdp(type, host, port)), `${id} ${name}`,
                `with only worker ${id} running, a datagram was answered by another`);
            }
            await c.call('1', { op: 'close', name });
            assert.strictEqual(await askUdp(type, host, port), `2 ${name}`);
            await c.call('2', { op: 'close', name });
            const socket = dgram.createSocket(type);
            try {
              await new Promise((resolve, reject) => {
                socket.once('error', reject);
                socket.bind({ port, address: a[1].address }, resolve);
              });
            } finally {
              socket.close();
            }
          });
      }
    }

    await sub(t, c, 'exclusive: true: each worker binds its own socket (port 0: different ports)', async () => {
      const a = await listenAll(c, { name: 'excl', kind: 'net', options: { port: 0, host: '127.0.0.1', exclusive: true } });
      assert.notStrictEqual(a[1].port, a[2].port);
      for (const id of WORKERS) {
        for (let i = 0; i < 3; i++) assert.strictEqual(await ask('net', { host: '127.0.0.1', port: a[id].port }), `${id} excl`);
      }
      const u = {};
      for (const id of WORKERS) {
        u[id] = await mustListen(c, id, { op: 'bind', name: 'udp-excl', type: 'udp4', options: { port: 0, exclusive: true } });
      }
      assert.notStrictEqual(u[1].port, u[2].port);
      for (const id of WORKERS) assert.strictEqual(await askUdp('udp4', '127.0.0.1', u[id].port), `${id} udp-excl`);
    });

    await sub(t, c, 'listen({fd}): a descriptor of the primary, served by both workers', async () => {
      const { fd, port, err } = await c.request({ op: 'rawfd' });
      assert.strictEqual(err, 0);
      const a = await listenAll(c, { name: 'fd', kind: 'net', options: { fd } });
      assert.strictEqual(a[1].port, port);
      assert.deepStrictEqual(a[2], a[1]);
      const strategy = policy === 'reuseport' ? 'none' : policy;
      await assertServedByAll(c, strategy, 'net', { host: '127.0.0.1', port }, 'fd');
    });

    const reusePortSupported = NODE_MAJOR > 22 || (NODE_MAJOR === 22 && NODE_MINOR >= 12);
    await sub(t, c, 'reusePort: true: each worker binds its own socket to one port', {
      skip: !reusePortSupported && `Node ${process.version} has no reusePort (>= 22.12)`,
    }, async () => {
      const free = net.createServer();
      await new Promise((resolve) => free.listen(0, '127.0.0.1', resolve));
      const { port } = free.address();
      await new Promise((resolve) => free.close(resolve));
      const a = await listenAll(c, { name: 'reuse', kind: 'net', options: { port, host: '127.0.0.1', reusePort: true } });
      assert.strictEqual(a[1].port, port);
      assert.strictEqual(a[2].port, port);
      await assertServedByAll(c, 'reuseport', 'net', { host: '127.0.0.1', port }, 'reuse');
    });

    await sub(t, c, 'close, then listen again in the same worker', async () => {
      const options = { port: 0, host: '127.0.0.7' };
      const a = await listenAll(c, { name: 'life', kind: 'http', options });
      assert.deepStrictEqual(a[2], a[1]);
      const { port } = a[1];
      await c.call('1', { op: 'close', name: 'life' });
      // Worker 1 rejoins the server worker 2 still holds.
      const again = await mustListen(c, '1', { op: 'listen', name: 'life', kind: 'http', options });
      assert.deepStrictEqual(again, a[1]);
      await assertServedByAll(c, policy, 'http', { host: '127.0.0.7', port }, 'life');
      // Both close: the server is gone; listening again opens a new one, shared again.
      for (const id of WORKERS) await c.call(id, { op: 'close', name: 'life' });
      const b = await listenAll(c, { name: 'life', kind: 'http', options });
      assert.deepStrictEqual(b[2], b[1]);
      await assertServedByAll(c, policy, 'http', { host: '127.0.0.7', port: b[1].port }, 'life');
      // Closed by every worker: the port is free again (the primary holds nothing).
      for (const id of WORKERS) await c.call(id, { op: 'close', name: 'life' });
      const probe = net.createServer();
      await new Promise((resolve, reject) => {
        probe.once('error', reject);
        probe.listen(b[1].port, '127.0.0.7', resolve);
      });
      await new Promise((resolve) => probe.close(resolve));
    });

    let busyPort = null;
    await sub(t, c, 'EADDRINUSE reaches the worker\'s server; the failed key is forgotten', async () => {
      const holder = net.createServer();
      await new Promise((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const { port } = holder.address();
      let held = true;
      try {
        const options = { port, host: '127.0.0.1' };
        const errors = [];
        for (const id of WORKERS) {
          const r = await c.call(id, { op: 'listen', name: 'busy', kind: 'net', options });
          assert.ok(r.error, `worker ${id} listened on a port in use: ${JSON.stringify(r)}`);
          assert.strictEqual(r.error.code, 'EADDRINUSE');
          errors.push(normalized(r.error, port));
        }
        assert.deepStrictEqual(errors[1], errors[0]);
        (bindErrors[`${policy} ${impl}`] ??= {}).EADDRINUSE = errors[0];
        // The same worker can listen elsewhere...
        const free = await mustListen(c, '1', { op: 'listen', name: 'free', kind: 'net', options: { port: 0, host: '127.0.0.1' } });
        assert.ok(free.port > 0);
        // ...and on that port, once it is free.
        await new Promise((resolve) => holder.close(resolve));
        held = false;
        const a = await listenAll(c, { name: 'busy', kind: 'net', options });
        assert.strictEqual(a[1].port, port);
        assert.deepStrictEqual(a[2], a[1]);
        await assertServedByAll(c, policy, 'net', { host: '127.0.0.1', port }, 'busy');
        busyPort = port;
      } finally {
        if (held) holder.close();
      }
    });

    await sub(t, c, 'a second server on that port in the same worker: EADDRINUSE, as in Node', { skip: !busyPort && 'needs the previous subtest' }, async () => {
      // Another listen() with the same address and port is another server (the key's
      // index differs): it cannot bind the port the first one holds.
      const options = { port: busyPort, host: '127.0.0.1' };
      const second = await c.call('1', { op: 'listen', name: 'busy-again', kind: 'net', options });
      if (!second.error) await c.call('1', { op: 'close', name: 'busy-again' });
      assert.ok(second.error, `a second server of worker 1 listened on ${busyPort} too: ${JSON.stringify(second)}`);
      assert.strictEqual(second.error.code, 'EADDRINUSE');
      (bindErrors[`${policy} ${impl}`] ??= {}).second = normalized(second.error, busyPort);
      // ...and the failure leaves the first server alone.
      await assertServedByAll(c, policy, 'net', { host: '127.0.0.1', port: busyPort }, 'busy');
    });

    const privileged = process.getuid() === 0 || unprivilegedPortStart() <= 80;
    await sub(t, c, 'EACCES: port 80 without the privilege', {
      skip: privileged && 'binding port 80 is allowed here (root, or ip_unprivileged_port_start <= 80)',
    }, async () => {
      const r = await c.call('1', { op: 'listen', name: 'eacces', kind: 'net', options: { port: 80, host: '127.0.0.1' } });
      assert.ok(r.error, JSON.stringify(r));
      assert.strictEqual(r.error.code, 'EACCES');
      (bindErrors[`${policy} ${impl}`] ??= {}).EACCES = r.error;
      await mustListen(c, '1', { op: 'listen', name: 'after-eacces', kind: 'net', options: { port: 0, host: '127.0.0.1' } });
    });
  });
}

test('bind errors: the worker gets the same error as with Node\'s built-in cluster', async (t) => {
  for (const [policy, impl] of POLICIES) {
    if (impl !== 'rust') continue;
    // rust-cluster's own policies are compared with Node's default (rr).
    const referenceName = `${policy === 'none' ? 'none' : 'rr'} builtin`;
    await t.test(`${policy} vs ${referenceName}`, () => {
      const ours = bindErrors[`${policy} rust`] ?? {};
      const reference = bindErrors[referenceName] ?? {};
      assert.ok(Object.keys(reference).length > 0, `no reference errors recorded (${referenceName} failed above)`);
      t.diagnostic(`${policy}: ${JSON.stringify(ours)}`);
      assert.deepStrictEqual(ours, reference);
    });
  }
});
