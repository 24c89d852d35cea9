'use strict';
// rust-cluster's preload for workers while the primary serves metrics (loaded with
// --require; never user code). It answers the primary's prom-client:getMetricsReq in a
// worker whose application never created an AggregatorRegistry (prom-client itself
// answers in one that did), from the default registry of the prom-client the application
// loaded (an empty answer if it loaded none), and reports the worker's event-loop delay
// (its one measurement, lib/loop-delay.js, shared with the heartbeat's preload).
const cluster = require('cluster');

const GET_METRICS_REQ = 'prom-client:getMetricsReq';
const GET_METRICS_RES = 'prom-client:getMetricsRes';
const PROM_CLIENT_INDEX = /[\\/]prom-client[\\/]index\.js$/;

if (cluster.isWorker) {
  const delays = require('./loop-delay').view(20);

  // prom-client's worker listener (installed by an AggregatorRegistry) answers by itself.
  const promClientAnswers = () => process.listeners('message')
    .some((fn) => fn !== onMessage && Function.prototype.toString.call(fn).includes('GET_METRICS_REQ'));

  // The default registry of the prom-client the application required, if any.
  const loadedRegistry = () => {
    const key = Object.keys(require.cache).find((k) => PROM_CLIENT_INDEX.test(k));
    return key === undefined ? null : require.cache[key].exports.register ?? null;
  };

  const send = (message) => {
    if (process.connected) process.send(message);
  };

  function onMessage(message) {
    if (message === null || typeof message !== 'object' || message.type !== GET_METRICS_REQ) return;
    const { requestId } = message;
    if (typeof requestId !== 'string' || !requestId.startsWith('rust-cluster:')) return;
    const delay = delays.take();
    send({ type: 'rust-cluster:workerStats', requestId, loopDelay: delay.count > 0 ? delay.mean / 1e9 : 0 });
    if (promClientAnswers()) return;
    const registry = loadedRegistry();
    if (registry === null) {
      send({ type: GET_METRICS_RES, requestId, metrics: [] });
      return;
    }
    Promise.resolve(registry.getMetricsAsJSON()).then(
      (metrics) => send({ type: GET_METRICS_RES, requestId, metrics: [metrics] }),
      (err) => send({ type: GET_METRICS_RES, requestId, error: err.message }),
    );
  }
  process.on('message', onMessage);
}
