'use strict';
// The metrics endpoint's JavaScript half (setupPrimary({ metrics })): the settings, what
// the facade knows of each worker (readiness, restarts) handed to the core, which serves
// /metrics, /healthz and /readyz on threads of its own (core/src/metrics.rs), and the
// workers' own prom-client metrics: asked of them with prom-client's cluster protocol
// (prom-client:getMetricsReq / getMetricsRes, answered by prom-client itself in a worker
// that created an AggregatorRegistry, by our preload in one that did not) and aggregated
// with the application's own prom-client (AggregatorRegistry.aggregate). Off unless set.
const path = require('path');
const {
  ERR_INVALID_ARG_TYPE,
  ERR_INVALID_ARG_VALUE,
  ERR_OUT_OF_RANGE,
  ERR_SOCKET_BAD_PORT,
  errnoException,
} = require('./errors');
const { setTimeout, clearTimeout } = require('./scheduling');

const GET_METRICS_REQ = 'prom-client:getMetricsReq';
const GET_METRICS_RES = 'prom-client:getMetricsRes';
// The preload's report beside each answer (see lib/metrics-preload.js).
const WORKER_STATS = 'rust-cluster:workerStats';
// Our request ids are strings, so they never collide with a prom-client primary's own
// (numbers); answers carrying them are ours and never reach the application's listeners
// (prom-client's primary listener would throw on an id it does not know).
const REQUEST_PREFIX = 'rust-cluster:';
// The core waits 700 ms for the aggregate (core/src/metrics.rs): workers get less.
const WORKER_DEADLINE_MS = 500;
const PRELOAD = path.join(__dirname, 'metrics-preload.js');

let cluster = null;
let endpoint = null; // { address, port, path } once serving
let minReady;
const restarts = new Map(); // worker id -> restarts of its slot (supervision reports them)
const scrapes = new Map(); // request id -> { waiting, responses, timer, id }

function binding() {
  return require('./binding');
}

/** Checks `options.metrics`; returns it normalized, or null when off. Throws before any change. */
function validate(metrics) {
  if (metrics === undefined || metrics === null || metrics === false) return null;
  if (typeof metrics !== 'object' || Array.isArray(metrics)) {
    throw ERR_INVALID_ARG_TYPE('options.metrics', 'object', metrics);
  }
  const { port, host = '127.0.0.1', path: urlPath = '/metrics', minReady: min } = metrics;
  if (typeof port !== 'number') throw ERR_INVALID_ARG_TYPE('options.metrics.port', 'number', port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw ERR_SOCKET_BAD_PORT('options.metrics.port', port);
  if (typeof host !== 'string') throw ERR_INVALID_ARG_TYPE('options.metrics.host', 'string', host);
  if (require('net').isIP(host) === 0) {
    throw ERR_INVALID_ARG_VALUE('options.metrics.host', host, 'must be an IP address');
  }
  if (typeof urlPath !== 'string') throw ERR_INVALID_ARG_TYPE('options.metrics.path', 'string', urlPath);
  if (!urlPath.startsWith('/') || /[\s?#]/.test(urlPath) || urlPath === '/healthz' || urlPath === '/readyz') {
    throw ERR_INVALID_ARG_VALUE('options.metrics.path', urlPath, "must start with '/' and not be /healthz or /readyz");
  }
  if (min !== undefined) {
    if (typeof min !== 'number') throw ERR_INVALID_ARG_TYPE('options.metrics.minReady', 'number', min);
    if (!Number.isInteger(min) || min < 0) throw ERR_OUT_OF_RANGE('options.metrics.minReady', 'an integer >= 0', min);
  }
  return { port, host, path: urlPath, minReady: min };
}

/** Starts the endpoint (once per process) for these settings. */
function configure(settings, clusterObject) {
  const metrics = validate(settings.metrics);
  if (metrics === null) return;
  cluster = clusterObject;
  if (endpoint === null) {
    const started = binding().metricsStart(metrics.host, metrics.port, metrics.path, onScrape);
    if (started.errno !== 0) throw errnoException(started.errno, 'listen', `${metrics.host}:${metrics.port}`);
    endpoint = { address: started.address, port: started.port, path: metrics.path };
  }
  minReady = metrics.minReady;
  binding().metricsReadiness(minReady, false);
}

function enabled() {
  return endpoint !== null;
}

/** Where the endpoint listens ({ address, port, path }), or null. */
function address() {
  return endpoint === null ? null : { ...endpoint };
}

/** The execArgv additions of a worker: the preload, while metrics are served. */
function workerExecArgv() {
  return enabled() ? ['--require', PRELOAD] : [];
}

function report(worker, ready) {
  if (!enabled() || worker.process.pid === undefined) return;
  binding().metricsWorker(worker.id, worker.process.pid, ready, restarts.get(worker.id) ?? 0);
}

function onFork(worker) {
  report(worker, false);
}

function onReady(worker) {
  report(worker, true);
}

function onExit(worker) {
  if (!enabled()) return;
  restarts.delete(worker.id);
  binding().metricsWorkerGone(worker.id);
}

/** `worker` replaces one that failed; its slot has restarted `count` times. */
function onRestart(worker, count) {
  if (!enabled()) return;
  restarts.set(worker.id, count);
  binding().metricsRestart();
  report(worker, false);
}

/** A shutdown began: /readyz answers 503 from now on. */
function stopping() {
  if (enabled()) binding().metricsReadiness(minReady, true);
}

// ---- the workers' prom-client metrics ----

let promClient;

/** The application's prom-client (resolved from its script's directory), or null. */
function applicationPromClient() {
  if (promClient !== undefined) return promClient;
  const exec = cluster?.settings?.exec;
  const paths = [exec ? path.dirname(path.resolve(exec)) : undefined, process.cwd()].filter(Boolean);
  try {
    promClient = require(require.resolve('prom-client', { paths }));
  } catch {
    promClient = null;
  }
  return promClient;
}

function onScrape(id) {
  const requestId = `${REQUEST_PREFIX}${id}`;
  const workers = Object.values(cluster?.workers ?? {}).filter((w) => w.isConnected());
  const scrape = { id, waiting: new Set(), responses: [], timer: null };
  for (const worker of workers) {
    try {
      worker.send({ type: GET_METRICS_REQ, requestId });
      scrape.waiting.add(worker.id);
    } catch {
      // closing meanwhile: nothing to wait for
    }
  }
  if (scrape.waiting.size === 0) {
    binding().metricsAnswer(id, '');
    return;
  }
  scrape.timer = setTimeout(() => finish(requestId), WORKER_DEADLINE_MS);
  scrapes.set(requestId, scrape);
}

async function finish(requestId) {
  const scrape = scrapes.get(requestId);
  if (scrape === undefined) return;
  scrapes.delete(requestId);
  clearTimeout(scrape.timer);
  let text = '';
  const prom = scrape.responses.length > 0 ? applicationPromClient() : null;
  if (prom !== null) {
    try {
      text = await prom.AggregatorRegistry.aggregate(scrape.responses).metrics();
    } catch (err) {
      text = `# rust-cluster: the workers' metrics could not be aggregated: ${String(err.message).replace(/\n/g, ' ')}\n`;
    }
  }
  binding().metricsAnswer(scrape.id, text);
}

/**
 * Takes a worker's message if it answers one of our requests (so the application never
 * sees it); returns whether it did.
 */
function claimReply(workerId, message) {
  if (endpoint === null || message === null || typeof message !== 'object') return false;
  if (message.type !== GET_METRICS_RES && message.type !== WORKER_STATS) return false;
  if (typeof message.requestId !== 'string' || !message.requestId.startsWith(REQUEST_PREFIX)) return false;
  if (message.type === WORKER_STATS) {
    if (typeof message.loopDelay === 'number') binding().metricsWorkerLoopDelay(workerId, message.loopDelay);
    return true;
  }
  const scrape = scrapes.get(message.requestId);
  // Late, or a second answer from one worker: dropped.
  if (scrape === undefined || !scrape.waiting.delete(workerId)) return true;
  if (message.error === undefined && Array.isArray(message.metrics)) scrape.responses.push(...message.metrics);
  if (scrape.waiting.size === 0) finish(message.requestId);
  return true;
}

module.exports = {
  validate, configure, address, workerExecArgv, onFork, onReady, onExit, onRestart, stopping, claimReply,
};
