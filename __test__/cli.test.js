'use strict';
// The command line (bin/rust-cluster.js): an unmodified script run as a cluster, its
// flags, its lines, its signals and its control socket, with real processes.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { start, get, getFreePort, ROOT } = require('./helpers/run');

const BIN = path.join(ROOT, 'bin/rust-cluster.js');
const SERVER = path.join(__dirname, 'fixtures/operations/plain-server.js');

function cli(args, options = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', ...options });
}

test('--help has examples, --version the package version; every usage error is one line and exit code 2', () => {
  const help = cli(['--help']);
  assert.strictEqual(help.status, 0);
  assert.match(help.stdout, /^Usage: rust-cluster \[options\] <script>/);
  assert.match(help.stdout, /Examples:\n {2}rust-cluster -w 4 server\.js/);
  assert.match(help.stdout, /npx --no -- rust-cluster -w 2 server\.js/);
  assert.strictEqual(cli(['-v']).stdout, `${require('../package.json').version}\n`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-cli-'));
  const badConfig = path.join(dir, 'bad.json');
  fs.writeFileSync(badConfig, '{"workers": 0}');
  const unknownKey = path.join(dir, 'unknown.json');
  fs.writeFileSync(unknownKey, '{"worker": 2}');
  for (const [args, message] of [
    [['--bogus', SERVER], /unknown option --bogus/],
    [['-w', 'lots', SERVER], /--workers: expected an integer >= 1 \(got "lots"\)/],
    [['-w', '0', SERVER], /--workers: expected an integer >= 1/],
    [['--policy', 'random', SERVER], /--policy: expected one of none, rr, reuseport, sticky/],
    [['--metrics', 'localhost:x', SERVER], /--metrics: expected \[host:\]port/],
    [['--max-memory', '12Q', SERVER], /--max-memory: expected a size/],
    [['--reload-signal', 'SIGNOPE', SERVER], /--reload-signal: expected a signal name/],
    [['--shutdown-timeout'], /--shutdown-timeout needs a value/],
    [['--no-restart=1', SERVER], /--no-restart takes no value/],
    [[], /no script to run/],
    [['missing.js'], /cannot find the script missing\.js/],
    [['--config', badConfig, SERVER], /--workers: expected an integer >= 1 \(got 0\)/],
    [['--config', unknownKey, SERVER], /--config: unknown key "worker"/],
    [['--config', path.join(dir, 'nope.json'), SERVER], /--config: cannot read .*ENOENT/],
    [['status'], /status needs --control <path>/],
    [['scale', '--control', '/tmp/x'], /scale needs the number of workers/],
  ]) {
    const res = cli(args);
    assert.strictEqual(res.status, 2, `${args.join(' ')}: ${res.stderr}`);
    assert.strictEqual(res.stdout, '');
    assert.match(res.stderr, /^rust-cluster: [^\n]+\n$/, `${args.join(' ')}: not one line: ${res.stderr}`);
    assert.match(res.stderr, message);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

async function startCli(t, args, options) {
  const proc = start(BIN, { args, ...options });
  t.after(() => proc.cleanup());
  return proc;
}

async function appPort(proc, count) {
  const hits = await proc.waitForCount(/^\[primary\] worker \d+ listening on \*:(\d+)$/, count);
  return Number(hits[0].match[1]);
}

test('an unmodified script runs as 2 workers: lifecycle lines, prefixed worker lines, both serve, SIGTERM stops gracefully', async (t) => {
  const proc = await startCli(t, ['-w', '2', '--metrics', '127.0.0.1:0', SERVER, '0']);
  const port = await appPort(proc, 2);
  await proc.waitForCount(new RegExp(`^\\[worker [12]\\] listening on ${port}$`), 2);
  assert.ok(proc.grep(/^\[primary\] worker 1 \(pid \d+\) forked$/).length === 1, proc.output());
  const pids = new Set();
  for (let i = 0; i < 20 && pids.size < 2; i++) pids.add((await get(port)).body.trim());
  assert.deepStrictEqual([...pids].map(Number).sort(), proc.workers().sort());
  const metricsPort = Number((await proc.waitFor(/^\[primary\] metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics$/)).match[1]);
  assert.match((await get(metricsPort, { path: '/metrics' })).body, /^rust_cluster_workers 2$/m);
  const from = proc.lines.length;
  proc.kill('SIGTERM');
  assert.deepStrictEqual(await proc.waitForExit(), { code: 0, signal: null });
  await proc.waitFor(/^\[primary\] stopping \(SIGTERM\)$/, { from });
  await proc.waitForCount(/^\[primary\] worker \d \(pid \d+\) exited with code 0$/, 2, { from });
  await proc.waitFor(/^\[primary\] stopped$/, { from });
  await proc.waitForNoProcesses();
});

test('worker lines are whole: 400 lines of 10 KB from two workers at once never mix', async (t) => {
  const proc = await startCli(t, ['-w', '2', SERVER, '0']);
  const port = await appPort(proc, 2);
  await Promise.all([get(port, { path: '/shout' }), get(port, { path: '/shout' })]);
  const lines = await proc.waitForCount(/ end$/, 400);
  const shape = /^\[worker ([12])\] (\d+) (\d+) x{10000} end$/;
  const byWorker = { 1: [], 2: [] };
  for (const { line } of lines) {
    const m = shape.exec(line);
    assert.ok(m, `a mixed or cut line: ${line.slice(0, 80)}...`);
    byWorker[m[1]].push(Number(m[3]));
  }
  // Each worker's lines in its own order.
  for (const seq of Object.values(byWorker)) assert.deepStrictEqual(seq, [...Array(200).keys()]);
});

test('--log-format json: every worker line is {time, worker, pid, stream, line}', async (t) => {
  const proc = await startCli(t, ['-w', '1', '--log-format', 'json', SERVER, '0']);
  const hit = await proc.waitFor((l) => l.includes('"stream":"stdout"'));
  const entry = JSON.parse(hit.line);
  assert.deepStrictEqual(Object.keys(entry), ['time', 'worker', 'pid', 'stream', 'line']);
  assert.strictEqual(entry.worker, 1);
  assert.deepStrictEqual([entry.pid], proc.workers());
  assert.match(entry.line, /^listening on \d+$/);
  assert.ok(!Number.isNaN(Date.parse(entry.time)));
  const primary = JSON.parse((await proc.waitFor(/"stream":"primary".*listening on/)).line);
  assert.strictEqual(primary.pid, proc.pid);
});

test('a crashed worker is restarted after its delay; a script that always crashes makes it give up with exit code 1', async (t) => {
  // A fixed port: the only worker's server closes with it, and its replacement opens it again.
  const fixed = await getFreePort();
  const proc = await startCli(t, ['-w', '1', '--restart-delay', '50', SERVER, String(fixed)]);
  const port = await appPort(proc, 1);
  await get(port, { path: '/crash' });
  await proc.waitFor(/^\[primary\] worker 1 \(pid \d+\) exited with code 1$/);
  await proc.waitFor(/^\[primary\] worker 1 restarted as worker 2 after 50 ms \(attempt 1\)$/);
  await proc.waitFor(/^\[primary\] worker 2 listening on/);
  assert.strictEqual((await get(port)).status, 200);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-cli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const crasher = path.join(dir, 'crash.js');
  fs.writeFileSync(crasher, 'process.exit(3);\n');
  const failing = await startCli(t, ['-w', '1', '--restart-delay', '10', '--max-restarts', '2', crasher]);
  assert.strictEqual((await failing.waitForExit()).code, 1);
  assert.strictEqual(failing.grep(/exited with code 3$/).length, 3);
  await failing.waitFor(/^\[primary\] gave up on worker 3's slot: \d+ restarts within 60000 ms$/);
});

test('SIGHUP reloads one worker at a time: new workers listen before the old ones stop', async (t) => {
  const proc = await startCli(t, ['-w', '2', SERVER, '0']);
  const port = await appPort(proc, 2);
  const before = proc.workers().sort();
  const from = proc.lines.length;
  proc.kill('SIGHUP');
  await proc.waitFor(/^\[primary\] reloaded: worker 1 -> 3, worker 2 -> 4$/, { from });
  const order = proc.lines.slice(from).filter((l) => /worker [34] listening|worker [12] \(pid \d+\) exited/.test(l));
  assert.deepStrictEqual(order.map((l) => l.replace(/ \(pid \d+\)/, '').replace(/ on .*/, '')), [
    '[primary] worker 3 listening', '[primary] worker 1 exited with code 0',
    '[primary] worker 4 listening', '[primary] worker 2 exited with code 0',
  ]);
  const after = proc.workers().sort();
  assert.strictEqual(after.filter((p) => before.includes(p)).length, 0);
  assert.strictEqual((await get(port)).status, 200);
});

test('--control: status (table and --json), scale, reload, stop through a 0600 socket; another uid is refused', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-ctl-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'control.sock');
  const config = path.join(dir, 'cluster.json');
  fs.writeFileSync(config, JSON.stringify({ workers: 2, control: sock, script: SERVER, args: ['0'] }));
  const proc = await startCli(t, ['--config', config]);
  const port = await appPort(proc, 2);
  await proc.waitFor(`[primary] control socket at ${sock}`);
  assert.strictEqual(fs.statSync(sock).mode & 0o777, 0o600);
  for (let i = 0; i < 4; i++) await get(port);

  const status = cli(['status', '--json', '--control', sock]);
  assert.strictEqual(status.status, 0, status.stderr);
  const workers = JSON.parse(status.stdout);
  assert.deepStrictEqual(workers.map((w) => w.id), [1, 2]);
  assert.deepStrictEqual(workers.map((w) => w.pid).sort(), proc.workers().sort());
  for (const w of workers) {
    assert.strictEqual(w.state, 'ready');
    assert.ok(w.rss > 10 * 1024 * 1024 && w.uptime >= 0 && w.cpu >= 0 && w.restarts === 0);
  }
  assert.strictEqual(workers.reduce((sum, w) => sum + w.connections, 0), 4);
  const table = cli(['status', '--control', sock]).stdout.split('\n');
  assert.match(table[0], /^ID\s+PID\s+STATE\s+UPTIME\s+CPU %\s+RSS\s+RESTARTS\s+CONNECTIONS$/);
  assert.match(table[1], /^1\s+\d+\s+ready\s+\d+s\s+[\d.]+\s+[\d.]+ MiB\s+0\s+\d+$/);

  assert.strictEqual(cli(['scale', '3', '--control', sock]).stdout, 'scaled to 3\n');
  assert.strictEqual(proc.workers().length, 3);
  assert.strictEqual(cli(['reload', '--control', sock]).stdout, 'reloaded: 1 -> 4, 2 -> 5, 3 -> 6\n');
  assert.strictEqual(cli(['scale', '1', '--control', sock]).stdout, 'scaled to 1\n');
  assert.deepStrictEqual(JSON.parse(cli(['status', '--json', '--control', sock]).stdout).map((w) => w.id), [4]);

  if (process.getuid() === 0) {
    // Past the file mode (opened up here), the peer's uid is checked: nobody is refused.
    fs.chmodSync(sock, 0o666);
    fs.chmodSync(dir, 0o755);
    const res = spawnSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--',
      process.execPath, BIN, 'stop', '--control', sock], { encoding: 'utf8' });
    assert.strictEqual(res.status, 1);
    assert.strictEqual(res.stderr, 'rust-cluster: permission denied\n');
    assert.strictEqual(proc.workers().length, 1);
  }
  assert.strictEqual(cli(['stop', '--control', sock]).stdout, 'stopping\n');
  assert.strictEqual((await proc.waitForExit()).code, 0);
  assert.strictEqual(cli(['status', '--control', sock]).status, 1);
});

test('--heartbeat: a worker stuck in a loop is killed and replaced, the others serve on (health, through its setting)', async (t) => {
  const fixed = await getFreePort();
  const proc = await startCli(t, ['-w', '2', '--heartbeat', '300', SERVER, String(fixed)]);
  await appPort(proc, 2);
  await proc.waitForCount(/^\[primary\] worker \d ready$/, 2);
  // The request never gets an answer: its worker is stuck for good.
  const stuck = require('node:net').connect(fixed, '127.0.0.1');
  stuck.on('error', () => {});
  t.after(() => stuck.destroy());
  stuck.write('GET /block HTTP/1.1\r\nHost: x\r\n\r\n');
  const { match } = await proc.waitFor(/^\[primary\] worker (\d) unresponsive \(no heartbeat\): killed and replaced$/);
  await proc.waitFor(new RegExp(`^\\[primary\\] worker ${match[1]} \\(pid \\d+\\) killed by SIGKILL$`));
  await proc.waitFor(/^\[primary\] worker 3 ready$/);
  assert.strictEqual((await get(fixed)).status, 200);
});
