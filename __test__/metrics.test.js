'use strict';
// The primary's metrics endpoint (setupPrimary({ metrics })): Prometheus text format,
// checked by Prometheus's own promtool and scraped by a real Prometheus server (Debian's
// `prometheus` package; .ci/run installs it), with a real prom-client in the workers; and
// the Kubernetes probes /healthz and /readyz.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { start, get, getFreePort } = require('./helpers/run');

const APP = path.join(__dirname, 'fixtures/operations/metrics-app.js');
const PROMTOOL = ['/usr/bin/promtool'].find((p) => fs.existsSync(p));
const PROMETHEUS = ['/usr/bin/prometheus'].find((p) => fs.existsSync(p));

async function startApp(t, env = {}) {
  const proc = start(APP, { env: { LISTEN_AT_ONCE: 1, ...env } });
  t.after(() => proc.cleanup());
  const { metrics } = JSON.parse((await proc.waitFor(/"metrics"/)).line);
  assert.strictEqual(metrics.address, '127.0.0.1');
  return { proc, metrics };
}

/** Sample lines of a text-format body, by series (name and labels). */
function samples(body) {
  const out = new Map();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/**
 * promtool check metrics: our series with no complaint at all; the whole body parses, and
 * the only lint complaints are about prom-client's own default gauges named *_total
 * (nodejs_active_handles_total...), which are prom-client's names, exported unchanged.
 */
function promtoolCheck(body) {
  const run = (input) => spawnSync(PROMTOOL, ['check', 'metrics'], { input, encoding: 'utf8' });
  const ours = `${body.split('\n').filter((l) => /^(# (HELP|TYPE) )?rust_cluster_/.test(l)).join('\n')}\n`;
  const strict = run(ours);
  assert.strictEqual(strict.status, 0, `promtool on our series: ${strict.stdout}${strict.stderr}\n${ours}`);
  const all = run(body);
  const complaints = `${all.stdout}${all.stderr}`.split('\n').filter((l) => l.trim() !== '');
  const foreign = complaints.filter((l) => !/^nodejs_\w+_total non-counter metrics should not have "_total" suffix$/.test(l));
  assert.deepStrictEqual(foreign, [], `promtool on the whole body:\n${body}`);
}

for (const mode of ['default', 'aggregator']) {
  test(`/metrics: per-worker series and the workers' prom-client metrics summed (${mode} registry), accepted by promtool`, async (t) => {
    const { proc, metrics } = await startApp(t, { PROM_MODE: mode });
    const [{ line }] = await proc.waitForCount(/"listening"/, 2);
    await proc.waitForCount(/"ready"/, 2);
    const appPort = JSON.parse(line).port;
    for (let i = 0; i < 10; i++) await get(appPort, { path: '/hello' });
    const res = await get(metrics.port, { path: '/metrics' });
    assert.strictEqual(res.status, 200);
    assert.strictEqual(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    const got = samples(res.body);
    const pids = proc.workers();
    assert.strictEqual(pids.length, 2);
    for (const [id, pid] of [[1], [2]].map(([id]) => [id, pids.find((p) => res.body.includes(`worker="${id}",pid="${p}"`))])) {
      assert.ok(pid, `no series for worker ${id}:\n${res.body}`);
      const labels = `{worker="${id}",pid="${pid}"}`;
      assert.strictEqual(got.get(`rust_cluster_worker_up${labels}`), 1);
      assert.strictEqual(got.get(`rust_cluster_worker_ready${labels}`), 1);
      assert.ok(got.get(`rust_cluster_worker_cpu_seconds_total${labels}`) > 0);
      assert.ok(got.get(`rust_cluster_worker_resident_memory_bytes${labels}`) > 10 * 1024 * 1024);
      assert.ok(got.has(`rust_cluster_worker_event_loop_delay_seconds${labels}`), res.body);
    }
    // Round-robin: the primary handed all 10 connections.
    assert.strictEqual(got.get('rust_cluster_connections_total'), 10);
    assert.strictEqual(got.get('rust_cluster_workers'), 2);
    assert.strictEqual(got.get('rust_cluster_workers_ready'), 2);
    // The app's counter, summed over both workers (once each: no worker answered twice).
    assert.strictEqual(got.get('app_requests_total{path="/hello"}'), 10, res.body);
    // And prom-client's default metrics aggregated as AggregatorRegistry does.
    assert.ok(got.has('nodejs_eventloop_lag_seconds') || res.body.includes('process_cpu'), 'no default metric');
    if (PROMTOOL) promtoolCheck(res.body);
    // None of our requests' answers reached the application's listeners.
    assert.strictEqual(proc.grep(/prom-client|rust-cluster:/).length, 0, proc.output());
  });
}

test('/metrics answers within 1 s while a worker never replies and while the primary\'s JavaScript is blocked', async (t) => {
  const { proc, metrics } = await startApp(t, { STUCK: 2 });
  await proc.waitForCount(/"listening"/, 2);
  // Worker 2 blocks its loop once listening; it never answers.
  const res = await get(metrics.port, { path: '/metrics', timeout: 1000 });
  assert.strictEqual(res.status, 200);
  assert.match(res.body, /rust_cluster_worker_up\{worker="2",pid="\d+"\} 1/);
  // The primary's own thread is blocked for 3 s: the core's thread answers regardless.
  proc.kill('SIGUSR1');
  await proc.waitFor(/"busy":true/);
  const busy = await get(metrics.port, { path: '/metrics', timeout: 1000 });
  assert.strictEqual(busy.status, 200);
  assert.match(busy.body, /rust_cluster_worker_up\{worker="1",pid="\d+"\} 1/);
  assert.strictEqual((await get(metrics.port, { path: '/healthz', timeout: 1000 })).status, 200);
  assert.strictEqual(proc.grep(/"busy":false/).length, 0, 'the primary was not blocked during the scrapes');
  if (PROMTOOL) promtoolCheck(busy.body);
});

test('rust_cluster_connections_total never decreases when a worker dies and is replaced: its connections stay in the total, its series ends', async (t) => {
  const { proc, metrics } = await startApp(t, { RESTART: '1' });
  const [{ line }] = await proc.waitForCount(/"listening"/, 2);
  await proc.waitForCount(/"ready"/, 2);
  const appPort = JSON.parse(line).port;
  const served = new Map(); // worker id -> requests it answered
  const hit = async (n) => {
    for (let i = 0; i < n; i++) {
      const id = (await get(appPort, { path: '/hello' })).body.trim();
      served.set(id, (served.get(id) ?? 0) + 1);
    }
  };
  const scrape = async () => {
    const { body } = await get(metrics.port, { path: '/metrics' });
    const perWorker = new Map();
    for (const [series, value] of samples(body)) {
      const m = /^rust_cluster_worker_connections_total\{worker="(\d+)",pid="(\d+)"\}$/.exec(series);
      if (m) perWorker.set(m[1], { pid: Number(m[2]), value });
    }
    return { got: samples(body), perWorker, body };
  };
  await hit(10);
  const before = await scrape();
  assert.strictEqual(before.got.get('rust_cluster_connections_total'), 10, before.body);
  for (const [id, n] of served) assert.strictEqual(before.perWorker.get(id)?.value, n, before.body);
  // Worker 1 dies; supervision forks its replacement.
  const gone = before.perWorker.get('1');
  process.kill(gone.pid, 'SIGKILL');
  await proc.waitFor(/"exit":1/);
  await proc.waitForCount(/"ready"/, 3);
  const after = await scrape();
  assert.strictEqual(after.got.get('rust_cluster_connections_total'), 10, after.body);
  assert.strictEqual(after.got.get('rust_cluster_restarts_total'), 1, after.body);
  assert.ok(!after.perWorker.has('1') && !after.body.includes(`pid="${gone.pid}"`), after.body);
  assert.strictEqual(after.perWorker.size, 2, after.body);
  // New connections add to the total, and to the live workers' own series.
  await hit(6);
  const later = await scrape();
  assert.strictEqual(later.got.get('rust_cluster_connections_total'), 16, later.body);
  for (const [id, { value }] of later.perWorker) {
    assert.strictEqual(value, (served.get(id) ?? 0), `worker ${id}: ${later.body}`);
  }
});

test('/healthz and /readyz: not ready until every worker listens (or minReady), 503 from the start of a shutdown', async (t) => {
  const proc = start(APP, { env: {} });
  t.after(() => proc.cleanup());
  const { metrics } = JSON.parse((await proc.waitFor(/"metrics"/)).line);
  const probe = async (p) => (await get(metrics.port, { path: p })).status;
  assert.strictEqual(await probe('/healthz'), 200);
  assert.strictEqual(await probe('/readyz'), 503);
  proc.kill('SIGUSR2');
  const [{ line }] = await proc.waitForCount(/"listening"/, 2);
  await proc.waitForCount(/"ready"/, 2);
  assert.strictEqual(await probe('/readyz'), 200);
  // A client holds a connection, so the workers' servers cannot close: the shutdown lasts.
  const client = require('node:net').connect(JSON.parse(line).port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  t.after(() => client.destroy());
  await get(JSON.parse(line).port); // the held connection is handed to a worker meanwhile
  proc.kill('SIGTERM');
  await proc.waitFor(/"stopping":true/);
  assert.strictEqual(await probe('/readyz'), 503);
  assert.strictEqual(await probe('/healthz'), 200);
  assert.strictEqual((await get(metrics.port, { path: '/nope' })).status, 404);
  client.destroy();
  assert.strictEqual((await proc.waitForExit()).code, 0);
});

test('/readyz with minReady 1: ready as soon as one worker is', async (t) => {
  const proc = start(APP, { env: { MIN_READY: 1, WORKERS: 2, LISTEN_ONLY: 1 } });
  t.after(() => proc.cleanup());
  const { metrics } = JSON.parse((await proc.waitFor(/"metrics"/)).line);
  assert.strictEqual((await get(metrics.port, { path: '/readyz' })).status, 503);
  // Only worker 1 is told to listen.
  proc.kill('SIGUSR2');
  await proc.waitFor(/"ready":1/);
  assert.strictEqual((await get(metrics.port, { path: '/readyz' })).status, 200);
  const body = (await get(metrics.port, { path: '/metrics' })).body;
  assert.match(body, /^rust_cluster_workers_ready 1$/m);
  assert.match(body, /^rust_cluster_workers 2$/m);
});

test('a real Prometheus server scrapes the endpoint and returns the series through its HTTP API', { skip: !PROMETHEUS && 'prometheus is not installed' }, async (t) => {
  const { proc, metrics } = await startApp(t, {});
  const [{ line }] = await proc.waitForCount(/"listening"/, 2);
  for (let i = 0; i < 5; i++) await get(JSON.parse(line).port, { path: '/x' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-prometheus-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    '  - job_name: rust-cluster',
    '    static_configs:',
    `      - targets: ['127.0.0.1:${metrics.port}']`,
    '',
  ].join('\n'));
  const webPort = await getFreePort();
  const server = spawn(PROMETHEUS, [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${webPort}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr.on('data', (d) => { log += d; });
  t.after(() => server.kill('SIGKILL'));
  const query = async (q) => {
    const res = await get(webPort, { path: `/api/v1/query?query=${encodeURIComponent(q)}` }).catch(() => null);
    return res && res.status === 200 ? JSON.parse(res.body).data.result : null;
  };
  // Polled: Prometheus's scrapes are its own, there is no event to wait on.
  let up = null;
  for (let i = 0; i < 600 && !(up?.length === 2); i++) {
    up = await query('rust_cluster_worker_up');
    if (!(up?.length === 2)) await new Promise((r) => setTimeout(r, 100));
  }
  assert.strictEqual(up?.length, 2, `no series after 60 s; prometheus said:\n${log}`);
  assert.deepStrictEqual(up.map((s) => s.metric.worker).sort(), ['1', '2']);
  for (const s of up) assert.strictEqual(s.metric.job, 'rust-cluster');
  const target = await query('up{job="rust-cluster"}');
  assert.strictEqual(target[0].value[1], '1');
  const app = await query('app_requests_total{path="/x"}');
  assert.strictEqual(app[0].value[1], '5');
});

test('bad metrics settings throw Node-style errors before anything is applied; a corrected call works', async (t) => {
  const busy = require('node:net').createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => busy.once('listening', resolve));
  t.after(() => busy.close());
  const proc = start(path.join(__dirname, 'fixtures/operations/metrics-validation.js'), { env: { BUSY_PORT: busy.address().port } });
  t.after(() => proc.cleanup());
  const out = JSON.parse((await proc.waitFor(/"results"/)).line);
  assert.deepStrictEqual(out.results.map((r) => r.code), [
    'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_TYPE', 'ERR_SOCKET_BAD_PORT', 'ERR_SOCKET_BAD_PORT',
    'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE', 'EADDRINUSE',
  ]);
  assert.match(out.results[0].message, /The "options\.metrics" property must be of type object\. Received type string/);
  assert.strictEqual(out.results[8].syscall, 'listen');
  assert.strictEqual(out.before, null);
  assert.deepStrictEqual(out.fixed, { ok: true });
  assert.strictEqual(out.after.address, '127.0.0.1');
  assert.ok(out.after.port > 0);
  assert.strictEqual(out.after.path, '/metrics');
});

test('README "Metrics": examples/metrics/server.js exports its workers\' counter summed, beside the per-worker series', async (t) => {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const shown = /## Metrics\n\n```js\n([\s\S]*?)```\n/.exec(readme)[1];
  assert.strictEqual(shown, fs.readFileSync(path.join(__dirname, '..', 'examples/metrics/server.js'), 'utf8'));
  const [port, metricsPort] = [await getFreePort(), await getFreePort()];
  const proc = start(path.join(__dirname, '..', 'examples/metrics/server.js'), { env: { PORT: port, METRICS_PORT: metricsPort } });
  t.after(() => proc.cleanup());
  await proc.waitForCount(/^worker \d listening$/, 2);
  for (let i = 0; i < 6; i++) await get(port);
  const { body } = await get(metricsPort, { path: '/metrics' });
  assert.match(body, /^http_requests_total\{code="200"\} 6$/m);
  assert.strictEqual(body.match(/^rust_cluster_worker_up\{worker="\d",pid="\d+"\} 1$/gm).length, 2);
  if (PROMTOOL) {
    // This app has no prom-client default metrics: promtool accepts the whole body as is.
    const res = spawnSync(PROMTOOL, ['check', 'metrics'], { input: body, encoding: 'utf8' });
    assert.strictEqual(res.status, 0, `${res.stdout}${res.stderr}\n${body}`);
    assert.strictEqual(res.stdout + res.stderr, '');
  }
});
