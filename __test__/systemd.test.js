'use strict';
// systemd, with its real tools (Debian's `systemd` package; .ci/run installs it):
// socket activation by systemd-socket-activate, which passes the primary a listening
// socket as a service manager does, and (below) sd_notify to a socket the test owns.
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { spawn, spawnSync } = require('node:child_process');
const { start, get, getFreePort } = require('./helpers/run');

const ACTIVATE = ['/usr/bin/systemd-socket-activate', '/lib/systemd/systemd-socket-activate'].find((p) => fs.existsSync(p));
const FIXTURE = path.join(__dirname, 'fixtures/operations/activated.js');
const ROOT = process.getuid() === 0;
const NOBODY = 65534;

/** A privileged port (below 1024) that is free now; as root only. */
async function freePrivilegedPort() {
  for (let tries = 0; tries < 200; tries++) {
    const port = 600 + crypto.randomInt(400);
    const free = await new Promise((resolve) => {
      const server = net.createServer();
      server.on('error', () => resolve(false));
      server.listen(port, () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free privileged port');
}

/**
 * systemd-socket-activate listening on `port`, starting the fixture on the first
 * connection; as root, the fixture runs as `nobody` (setpriv execs, so LISTEN_PID is
 * still the primary's pid).
 */
function activated(port, env, options = {}) {
  const vars = { PATH: process.env.PATH, PORT: port, WORKERS: 2, ...env };
  return start(FIXTURE, {
    ...options,
    wrapper: (tag) => [
      ACTIVATE, '-l', String(port), '--fdname=web',
      ...Object.entries(vars).map(([k, v]) => `-E${k}=${v}`), `-E${tag}`,
      ...(ROOT ? ['/usr/bin/setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'] : []),
    ],
  });
}

async function activatedPort() {
  return ROOT ? freePrivilegedPort() : getFreePort();
}

for (const policy of ['rr', 'none']) {
  test(`socket activation (${policy}): a connection made before the primary exists is served by a worker, as nobody on a privileged port`, { skip: !ACTIVATE && 'systemd-socket-activate is not installed' }, async (t) => {
    const port = await activatedPort();
    const proc = activated(port, { NODE_CLUSTER_SCHED_POLICY: policy });
    t.after(() => proc.cleanup());
    await proc.waitFor(`Listening on [::]:${port}`);
    // systemd-socket-activate starts the service on the first connection (Accept=no):
    // this request waits in the socket's backlog until a worker takes it.
    const first = JSON.parse((await get(port)).body);
    const primary = JSON.parse((await proc.waitFor(/"primary"/)).line);
    assert.strictEqual(primary.uid, ROOT ? NOBODY : process.getuid());
    assert.strictEqual(first.uid, primary.uid);
    // The variables are the primary's alone: gone from its environment and its workers'.
    assert.strictEqual(primary.listenPid, null);
    assert.strictEqual(primary.listenFds, null);
    assert.deepStrictEqual(first.env, []);
    assert.strictEqual(primary.fd3Cloexec, true, 'the passed socket is close-on-exec in the primary');
    await proc.waitForCount(new RegExp(`"listening":\\d+,"port":${port}`), 2);

    // Both workers serve on the one passed socket.
    const seen = new Set();
    for (let i = 0; i < 40 && seen.size < 2; i++) seen.add(JSON.parse((await get(port)).body).worker);
    if (policy === 'rr') assert.deepStrictEqual([...seen].sort(), [1, 2]);
    else assert.ok(seen.size >= 1);

    // A worker dies; its replacement listens on the same socket (no bind: as nobody it
    // could not bind the port again) and serves.
    const before = proc.lines.length;
    await get(port, { path: '/exit' });
    await proc.waitFor(/"exit":\d+,"code":7/, { from: before });
    await proc.waitFor(new RegExp(`"listening":3,"port":${port}`), { from: before });
    const served = new Set();
    for (let i = 0; i < 60 && !served.has(3); i++) served.add(JSON.parse((await get(port)).body).worker);
    assert.ok(served.has(3), `the replacement served none of 60 requests: ${[...served]}`);
    assert.strictEqual(proc.grep(/listenError/).length, 0, proc.output());
  });
}

test('socket activation: while no worker runs, connections wait in the passed socket and the next worker serves them', { skip: !ACTIVATE && 'systemd-socket-activate is not installed' }, async (t) => {
  const port = await activatedPort();
  const proc = activated(port, { WORKERS: 1, RESTART: 'signal' });
  t.after(() => proc.cleanup());
  await proc.waitFor(`Listening on [::]:${port}`);
  assert.strictEqual(JSON.parse((await get(port)).body).worker, 1);
  await get(port, { path: '/exit' });
  await proc.waitFor(/"exit":1,"code":7/);
  // No worker now: the request waits in the socket's backlog...
  const waiting = get(port);
  const from = proc.lines.length;
  proc.kill('SIGUSR2');
  await proc.waitFor(/"listening":2/, { from });
  // ...and the replacement answers it.
  assert.strictEqual(JSON.parse((await waiting).body).worker, 2);
});

test('without activation, Node\'s built-in cluster refuses connections while no worker runs', async (t) => {
  const port = await getFreePort();
  const proc = start(FIXTURE, { impl: 'builtin', env: { PORT: port, WORKERS: 1, RESTART: 'signal' } });
  t.after(() => proc.cleanup());
  await proc.waitFor(/"listening":1/);
  await get(port, { path: '/exit' });
  await proc.waitFor(/"exit":1,"code":7/);
  await assert.rejects(get(port), { code: 'ECONNREFUSED' });
});

test('socket activation: Node\'s built-in cluster, given the same socket, binds again and fails with EACCES as nobody', { skip: (!ACTIVATE && 'systemd-socket-activate is not installed') || (!ROOT && 'needs root to start the primary as nobody on a privileged port') }, async (t) => {
  const port = await freePrivilegedPort();
  const proc = activated(port, { RESTART: 0, WORKERS: 1 }, { impl: 'builtin' });
  t.after(() => proc.cleanup());
  await proc.waitFor(`Listening on [::]:${port}`);
  // Its first connection starts the primary; nobody ever accepts it.
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => {});
  t.after(() => client.destroy());
  const error = JSON.parse((await proc.waitFor(/listenError/)).line);
  assert.strictEqual(error.message.listenError, 'EACCES');
});

// ---- sd_notify ----

// The service manager's end: a datagram socket the test owns (Node cannot bind one, so a
// few lines of Python do), printing each notification as a JSON string on a line.
const RECEIVER = [
  'import json, socket, sys',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  's.bind(sys.argv[1])',
  'print(json.dumps("bound"), flush=True)',
  'while True:',
  '    print(json.dumps(s.recv(65536).decode()), flush=True)',
].join('\n');

function notifyReceiver(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-notify-'));
  const socketPath = path.join(dir, 'notify');
  const child = spawn('python3', ['-c', RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages = [];
  const waiters = [];
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    messages.push(JSON.parse(line));
    for (const w of [...waiters]) if (w.check()) waiters.splice(waiters.indexOf(w), 1);
  });
  t.after(() => {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const until = (predicate, what) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} among ${JSON.stringify(messages)}`)), 30000);
    const check = () => {
      const i = messages.findIndex(predicate);
      if (i === -1) return false;
      clearTimeout(timer);
      resolve(i);
      return true;
    };
    if (!check()) waiters.push({ check });
  });
  return {
    socketPath,
    messages,
    until,
    bound: until((m) => m === 'bound', 'bind'),
    /** Resolves once every datagram sent before this call has been read (a marker behind them). */
    async drain() {
      const mark = `MARK=${messages.length}-${Math.random()}`;
      spawnSync('python3', ['-c', 'import socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.sendto(sys.argv[2].encode(), sys.argv[1])', socketPath, mark]);
      await until((m) => m === mark, mark);
      return messages.filter((m) => m !== 'bound' && !m.startsWith('MARK='));
    },
  };
}

test('sd_notify: READY=1 once both workers listen, STATUS with the counts, WATCHDOG=1 while they are up, STOPPING=1 at the stop', async (t) => {
  const receiver = notifyReceiver(t);
  await receiver.bound;
  const proc = start(FIXTURE, {
    env: { PORT: 0, WORKERS: 2, RESTART: 0, NOTIFY_SOCKET: receiver.socketPath, WATCHDOG_USEC: 200000 },
  });
  t.after(() => proc.cleanup());
  const readyAt = await receiver.until((m) => m.startsWith('READY=1'), 'READY=1');
  assert.strictEqual(receiver.messages[readyAt], 'READY=1\nSTATUS=2 workers, 2 ready');
  const [{ line }] = await proc.waitForCount(/"listening"/, 2);
  // Workers never see the primary's notify socket and watchdog.
  assert.deepStrictEqual(JSON.parse((await get(JSON.parse(line).port)).body).env, []);
  // Pings every WATCHDOG_USEC / 2 = 100 ms once a worker is up.
  const ping = (m) => m === 'WATCHDOG=1';
  await receiver.until((m, i) => ping(m) && receiver.messages.slice(0, i).filter(ping).length >= 2, 'third WATCHDOG=1');
  proc.kill('SIGTERM');
  assert.strictEqual((await proc.waitForExit()).code, 0);
  const got = await receiver.drain();
  const first = got.findIndex(ping);
  const stopping = got.findIndex((m) => m.startsWith('STOPPING=1'));
  assert.deepStrictEqual(got.filter((m) => !ping(m)), [
    'STATUS=2 workers, 1 ready',
    'READY=1\nSTATUS=2 workers, 2 ready',
    // (The program exits once its workers disconnected, before their exits.)
    'STOPPING=1\nSTATUS=stopping, 2 workers, 2 ready',
  ]);
  assert.ok(first > got.indexOf('STATUS=2 workers, 1 ready'), 'no ping before a worker was up');
  // The ping in flight when the stop began may land after STOPPING=1; none later.
  assert.ok(got.slice(stopping + 1).filter(ping).length <= 1, JSON.stringify(got));
});

test('sd_notify: Node\'s built-in cluster tells the service manager nothing', async (t) => {
  const receiver = notifyReceiver(t);
  await receiver.bound;
  const proc = start(FIXTURE, {
    impl: 'builtin',
    env: { PORT: 0, WORKERS: 2, RESTART: 0, NOTIFY_SOCKET: receiver.socketPath, WATCHDOG_USEC: 200000 },
  });
  t.after(() => proc.cleanup());
  await proc.waitForCount(/"listening"/, 2);
  proc.kill('SIGTERM');
  assert.strictEqual((await proc.waitForExit()).code, 0);
  // Under Type=notify, systemd would time the service out as never ready.
  assert.deepStrictEqual(await receiver.drain(), []);
});

// ---- through the command line (what examples/systemd/ runs) ----

const BIN = path.join(__dirname, '..', 'bin/rust-cluster.js');
const SERVER = path.join(__dirname, 'fixtures/operations/plain-server.js');

test('the command line under systemd: READY=1, RELOADING=1 with MONOTONIC_USEC and READY=1 around a SIGHUP reload, STOPPING=1 at SIGTERM', async (t) => {
  const receiver = notifyReceiver(t);
  await receiver.bound;
  const proc = start(BIN, { args: ['-w', '2', SERVER, '0'], env: { NOTIFY_SOCKET: receiver.socketPath } });
  t.after(() => proc.cleanup());
  await receiver.until((m) => m.startsWith('READY=1'), 'READY=1');
  const before = process.hrtime.bigint() / 1000n;
  proc.kill('SIGHUP');
  await proc.waitFor(/^\[primary\] reloaded: worker 1 -> 3, worker 2 -> 4$/);
  const after = process.hrtime.bigint() / 1000n;
  proc.kill('SIGTERM');
  assert.strictEqual((await proc.waitForExit()).code, 0);
  const got = (await receiver.drain()).filter((m) => /^(READY|RELOADING|STOPPING)=/.test(m));
  assert.strictEqual(got.length, 4, JSON.stringify(got));
  assert.strictEqual(got[0], 'READY=1\nSTATUS=2 workers, 2 ready');
  const usec = /^RELOADING=1\nMONOTONIC_USEC=(\d+)$/.exec(got[1]);
  assert.ok(usec, got[1]);
  // CLOCK_MONOTONIC, the clock of process.hrtime: taken between the signal and the end.
  assert.ok(BigInt(usec[1]) >= before && BigInt(usec[1]) <= after, `${usec[1]} not in [${before}, ${after}]`);
  assert.match(got[2], /^READY=1\nSTATUS=2 workers, 2 ready$/);
  assert.match(got[3], /^STOPPING=1\n/);
});

// examples/systemd/: what web.service runs (its ExecStart, with the test's script and a
// free privileged port for web.socket's ListenStream), started the way systemd starts it:
// with the socket passed, as an unprivileged user, Type=notify.
test('examples/systemd: web.service\'s ExecStart, socket-activated as nobody on a privileged port, notifies READY=1 and serves', { skip: !ACTIVATE && 'systemd-socket-activate is not installed' }, async (t) => {
  const unit = fs.readFileSync(path.join(__dirname, '..', 'examples/systemd/web.service'), 'utf8');
  const socketUnit = fs.readFileSync(path.join(__dirname, '..', 'examples/systemd/web.socket'), 'utf8');
  assert.match(unit, /^Type=notify$/m);
  assert.match(unit, /^Requires=web\.socket$/m);
  assert.match(socketUnit, /^ListenStream=80$/m);
  const execStart = /^ExecStart=(.*)$/m.exec(unit)[1].split(' ');
  assert.strictEqual(path.basename(execStart[0]), 'rust-cluster');
  assert.deepStrictEqual(execStart.slice(-2), ['server.js', '80']);
  const flags = execStart.slice(1, -2).map((f) => (f === '127.0.0.1:9100' ? '127.0.0.1:0' : f));
  const receiver = notifyReceiver(t);
  await receiver.bound;
  const port = await activatedPort();
  const proc = start(BIN, {
    args: [...flags, SERVER, String(port)],
    wrapper: (tag) => [
      ACTIVATE, '-l', String(port), '--fdname=web', `-EPATH=${process.env.PATH}`, `-ENOTIFY_SOCKET=${receiver.socketPath}`, `-E${tag}`,
      ...(ROOT ? ['/usr/bin/setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'] : []),
    ],
  });
  t.after(() => proc.cleanup());
  if (ROOT) fs.chmodSync(path.dirname(receiver.socketPath), 0o777);
  if (ROOT) fs.chmodSync(receiver.socketPath, 0o777);
  await proc.waitFor(`Listening on [::]:${port}`);
  assert.strictEqual((await get(port)).status, 200);
  const workers = proc.workers().length;
  assert.ok(workers >= 1);
  const ready = await receiver.until((m) => m.startsWith('READY=1'), 'READY=1');
  assert.match(receiver.messages[ready], new RegExp(`^READY=1\nSTATUS=${workers} workers?, ${workers} ready$`));
  const pids = new Set();
  for (let i = 0; i < 40 && pids.size < Math.min(2, workers); i++) pids.add((await get(port)).body.trim());
  assert.strictEqual(pids.size, Math.min(2, workers));
  proc.kill('SIGTERM');
  assert.strictEqual((await proc.waitForExit()).code, 0);
  const got = await receiver.drain();
  assert.ok(got.some((m) => m.startsWith('STOPPING=1')), JSON.stringify(got));
});
