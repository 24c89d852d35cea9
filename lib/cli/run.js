'use strict';
// `rust-cluster [options] <script>`: runs the script, unmodified, as a cluster. The flags
// become settings of the cluster's primary (this process); lifecycle lines go to stderr,
// the workers' own lines (read by the core, line by line) to stdout and stderr.
const os = require('os');
const path = require('path');
const control = require('./control');
const { Supervisor } = require('./supervise');

const DEFAULTS = {
  restartDelay: 100, restartMaxDelay: 10000, maxRestarts: 10, restartWindow: 60000, shutdownTimeout: 10000,
};

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

/**
 * The cluster settings the options map onto, and the supervision settings (restart,
 * shutdownTimeout: supervision's names), which lib/cli/supervise.js applies: they are kept
 * out of setupPrimary() so that nothing else restarts or stops the workers as well.
 */
function settingsOf(options, script, args) {
  const o = { ...DEFAULTS, ...options };
  const settings = {
    exec: path.resolve(script),
    args,
    ...(o.policy !== undefined && { schedulingPolicy: o.policy }),
    logFormat: o.logFormat ?? 'prefix',
    ...(o.metrics !== undefined && { metrics: o.metrics }),
    // Health's settings, under their names.
    ...(o.heartbeat !== undefined && { heartbeat: { interval: o.heartbeat, timeout: 3 * o.heartbeat } }),
    ...(o.maxMemory !== undefined && { maxMemory: o.maxMemory }),
  };
  const supervision = {
    restart: o.restart === false ? false : {
      delay: o.restartDelay, maxDelay: o.restartMaxDelay, maxRestarts: o.maxRestarts, window: o.restartWindow,
    },
    shutdownTimeout: o.shutdownTimeout,
  };
  return { settings, supervision };
}

async function run({ options, script, args }) {
  const cluster = require('../../index');
  const log = lifecycleLogger(options.logFormat);
  const count = options.workers === undefined || options.workers === 'auto' ? os.availableParallelism() : options.workers;
  const { settings, supervision } = settingsOf(options, script, args);
  cluster.setupPrimary(settings);
  require('../../binding').countConnections();
  const supervisor = new Supervisor(cluster, supervision, log);

  cluster.on('fork', (worker) => log(`worker ${worker.id} (pid ${worker.process.pid}) forked`));
  cluster.on('listening', (worker, address) => log(`worker ${worker.id} listening on ${describeAddress(address)}`));
  cluster.on('ready', (worker) => log(`worker ${worker.id} ready`));
  cluster.on('exit', (worker, code, signal) => {
    log(`worker ${worker.id} (pid ${worker.process.pid}) ${signal ? `killed by ${signal}` : `exited with code ${code}`}`);
  });
  const endpoint = cluster.metricsAddress();
  if (endpoint !== null) {
    const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
    log(`metrics on http://${host}:${endpoint.port}${endpoint.path}`);
  }

  const stop = (reason) => supervisor.shutdown(reason).then(() => {
    log('stopped');
    process.exit(0);
  });
  let signalled = false;
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      if (signalled) {
        // A second signal: stop waiting.
        for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGKILL');
        process.exit(1);
      }
      signalled = true;
      stop(signal);
    });
  }
  const reload = async () => {
    log('reloading');
    const replaced = await supervisor.reload();
    log(`reloaded: ${replaced.map(([a, b]) => `worker ${a} -> ${b}`).join(', ') || 'no worker'}`);
    return { replaced };
  };
  process.on(options.reloadSignal ?? 'SIGHUP', () => {
    reload().catch((err) => log(`reload failed: ${err.message}`));
  });

  if (options.control !== undefined) {
    const socketPath = path.resolve(options.control);
    await control.serve(socketPath, {
      status: () => ({ workers: supervisor.status() }),
      reload,
      scale: async ({ n }) => {
        if (!Number.isInteger(n) || n < 0) throw new Error('scale needs an integer >= 0');
        log(`scaling to ${n}`);
        await supervisor.scale(n);
        return { workers: n };
      },
      stop: () => {
        setImmediate(() => stop('control'));
        return {};
      },
    });
    log(`control socket at ${socketPath}`);
  }
  supervisor.start(count);
}

module.exports = { run, settingsOf };
