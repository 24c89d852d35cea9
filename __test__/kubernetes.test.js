'use strict';
// Kubernetes' view of the command line: the probes on the metrics port and the SIGTERM a
// pod gets (/readyz 503 first, then the graceful stop within --shutdown-timeout, which
// fits terminationGracePeriodSeconds), and the example manifest that relies on them.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { start, get } = require('./helpers/run');

const BIN = path.join(__dirname, '..', 'bin/rust-cluster.js');
const SERVER = path.join(__dirname, 'fixtures/operations/plain-server.js');
const MANIFEST = path.join(__dirname, '..', 'examples/kubernetes/deployment.yaml');

test('SIGTERM: /readyz answers 503 at once, /healthz 200, the workers stop gracefully and one stuck in a request is killed at the deadline', async (t) => {
  const proc = start(BIN, { args: ['-w', '2', '--metrics', '127.0.0.1:0', '--shutdown-timeout', '1500', SERVER, '0'] });
  t.after(() => proc.cleanup());
  const metricsPort = Number((await proc.waitFor(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics$/)).match[1]);
  const [{ match }] = await proc.waitForCount(/^\[primary\] worker \d listening on \*:(\d+)$/, 2);
  const port = Number(match[1]);
  await proc.waitForCount(/^\[primary\] worker \d ready$/, 2);
  const probe = async (p) => (await get(metricsPort, { path: p })).status;
  assert.strictEqual(await probe('/readyz'), 200);
  // A client in the middle of a request (its headers not finished): its worker cannot
  // close its server until the deadline.
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => {});
  t.after(() => client.destroy());
  await new Promise((resolve) => client.once('connect', resolve));
  client.write('GET / HTTP/1.1\r\nHost: x\r\n');
  await get(port); // the held connection has reached a worker by now (round-robin: the other)

  proc.kill('SIGTERM');
  await proc.waitFor(/^\[primary\] stopping \(SIGTERM\)$/);
  assert.strictEqual(await probe('/readyz'), 503);
  assert.strictEqual(await probe('/healthz'), 200);
  await proc.waitFor(/^\[primary\] worker \d \(pid \d+\) exited with code 0$/);
  await proc.waitFor(/^\[primary\] worker \d \(pid \d+\) killed by SIGKILL$/);
  assert.deepStrictEqual(await proc.waitForExit(), { code: 0, signal: null });
});

test('the example Deployment: probes on /healthz and /readyz of the --metrics port, a grace period longer than --shutdown-timeout', () => {
  const manifest = fs.readFileSync(MANIFEST, 'utf8');
  const command = /command: \[(.*)\]/.exec(manifest)[1].split(',').map((s) => JSON.parse(s.trim()));
  assert.strictEqual(command[0], 'node_modules/.bin/rust-cluster');
  const flag = (name) => command[command.indexOf(name) + 1];
  const metrics = flag('--metrics');
  const shutdownMs = Number(flag('--shutdown-timeout'));
  const metricsPort = Number(metrics.split(':').pop());
  assert.strictEqual(metrics.split(':')[0], '0.0.0.0', 'the kubelet probes from outside the pod');
  const grace = Number(/terminationGracePeriodSeconds: (\d+)/.exec(manifest)[1]);
  const preStop = Number(/command: \["sleep", "(\d+)"\]/.exec(manifest)[1]);
  // The command line itself accepts these flags.
  const parsed = require('../lib/cli/options').parse([...command.slice(1, -2), __filename, '8080']);
  assert.strictEqual(parsed.options.workers, 'auto');
  assert.ok(grace * 1000 >= preStop * 1000 + shutdownMs + 1000, `grace ${grace}s < preStop ${preStop}s + shutdown ${shutdownMs}ms`);
  for (const [probe, urlPath] of [['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']]) {
    const block = new RegExp(`${probe}:\\s+httpGet:\\s+path: (\\S+)\\s+port: (\\d+)`).exec(manifest);
    assert.ok(block, `${probe} missing`);
    assert.strictEqual(block[1], urlPath);
    assert.strictEqual(Number(block[2]), metricsPort);
  }
});
