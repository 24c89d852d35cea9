'use strict';
// `rust-cluster [options] <script>`: runs the script, unmodified, as a cluster. The flags
// become settings of the cluster's primary (this process), supervision's among them
// (restarts, graceful stop on SIGTERM/SIGINT, reload on SIGHUP: lib/supervision.js does
// the work); lifecycle lines go to stderr, the workers' own lines (read by the core, line
// by line) to stdout and stderr.
const path = require('path');
const control = require('./control');

const DEFAULTS = {
  restartDelay: 100, restartMaxDelay: 10000, maxRestarts: 10, restartWindow: 60000, shutdownTimeout: 10000,
};
const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'];

function lifecycleLogger(format) {
  return (line) => {
    const text = format === 'json'
      ? JSON.stringify({ time: new Date().toISOString(), worker: null, pid: process.pid, stream: 'primary', line })
      : `[primary] ${line}`;
    process.stderr.write(`${text}\n`);
  };
}

function describeAddress(address) {
  if (address.addressType === -1 || typeof address.port !== 'number' || address.port < 0) return String(address.address);
  const host = address.address ?? '*';
  return `${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

/** The cluster settings the options map onto (supervision's and health's under their names). */
function settingsOf(options, script, args) {
  const o = { ...DEFAULTS, ...options };
  return {
    exec: path.resolve(script),
    args,
    ...(o.policy !== undefined && { schedulingPolicy: o.policy }),
    logFormat: o.logFormat ?? 'prefix',
    ...(o.metrics !== undefined && { metrics: o.metrics }),
    restart: o.restart === false ? false : {
      delay: o.restartDelay, maxDelay: o.restartMaxDelay, maxRestarts: o.maxRestarts, window: o.restartWindow,
    },
    shutdownTimeout: o.shutdownTimeout,
    shutdownSignals: SHUTDOWN_SIGNALS,
    reloadSignal: o.reloadSignal ?? 'SIGHUP',
    ...(o.heartbeat !== undefined && { heartbeat: { interval: o.heartbeat, timeout: 3 * o.heartbeat } }),
    ...(o.maxMemory !== undefined && { maxMemory: o.maxMemory }),
  };
}

/** What `status` shows of each worker: its stats() (health's figures, read by the core). */
function workerStatus(cluster) {
  return Object.values(cluster.workers).filter((w) => !w.isDead()).sort((a, b) => a.id - b.id).map((w) => {
    const s = w.stats();
    return {
      id: w.id,
      pid: s.pid,
      state: s.ready ? 'ready' : s.state,
      uptime: s.uptime / 1000,
      cpu: s.cpuPercent,
      rss: s.rss,
      restarts: s.restarts,
      connections: s.connections,
    };
  });
}

async function run({ options, script, args }) {
  const cluster = require('../../index');
  const log = lifecycleLogger(options.logFormat);
  // auto: the CPUs this process may use (its affinity mask and cgroup quota).
  const count = options.workers === undefined || options.workers === 'auto' ? cluster.availableParallelism() : options.workers;
  const settings = settingsOf(options, script, args);
  cluster.setupPrimary(settings);

  cluster.on('fork', (worker) => log(`worker ${worker.id} (pid ${worker.process.pid}) forked`));
  cluster.on('listening', (worker, address) => log(`worker ${worker.id} listening on ${describeAddress(address)}`));
  cluster.on('ready', (worker) => log(`worker ${worker.id} ready`));
  cluster.on('exit', (worker, code, signal) => {
    log(`worker ${worker.id} (pid ${worker.process.pid}) ${signal ? `killed by ${signal}` : `exited with code ${code}`}`);
  });
  cluster.on('restart', (worker, old, info) => {
    log(`worker ${old.id} restarted as worker ${worker.id} after ${info.delay} ms (attempt ${info.attempt})`);
  });
  cluster.on('giveup', (worker, info) => {
    log(`gave up on worker ${worker.id}'s slot: ${info.restarts} restarts within ${info.window} ms`);
    // Nothing left to serve: stop, and say so in the exit code.
    if (Object.values(cluster.workers).every((w) => w.isDead())) process.exit(1);
  });
  // Health's events (--heartbeat, --max-memory): the worker is replaced.
  cluster.on('unresponsive', (worker) => log(`worker ${worker.id} unresponsive (no heartbeat): killed and replaced`));
  cluster.on('memory', (worker, info) => log(`worker ${worker.id} over --max-memory (${info.pss ?? info.rss} of ${info.limit} bytes): replaced`));
  cluster.on('reload', ({ replaced }) => {
    log(`reloaded: ${replaced.map(([a, b]) => `worker ${a} -> ${b}`).join(', ') || 'no worker'}`);
  });
  // Supervision handles the signals (shutdownSignals, reloadSignal); these only say so.
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, () => log(`stopping (${signal})`));
  process.on(settings.reloadSignal, () => log('reloading'));
  process.on('exit', (code) => log(code === 0 ? 'stopped' : `exiting with code ${code}`));
  const endpoint = cluster.metricsAddress();
  if (endpoint !== null) {
    const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
    log(`metrics on http://${host}:${endpoint.port}${endpoint.path}`);
  }

  if (options.control !== undefined) {
    const socketPath = path.resolve(options.control);
    await control.serve(socketPath, {
      status: () => ({ workers: workerStatus(cluster) }),
      reload: () => {
        log('reloading');
        return cluster.reload();
      },
      scale: async ({ n }) => {
        if (!Number.isInteger(n) || n < 0) throw new Error('scale needs an integer >= 0');
        log(`scaling to ${n}`);
        await cluster.scale(n);
        return { workers: n };
      },
      stop: () => {
        setImmediate(() => {
          log('stopping (control)');
          cluster.shutdown().then(() => process.exit(0));
        });
        return {};
      },
    });
    log(`control socket at ${socketPath}`);
  }
  for (let i = 0; i < count; i++) cluster.fork();
}

module.exports = { run, settingsOf };
