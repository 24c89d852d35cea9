'use strict';
// rust-cluster's preload for supervised workers (loaded with --require when a supervision
// setting is on): a graceful stop that does not reset keep-alive clients. Node's
// server.close() (which a worker's disconnect() calls) destroys idle keep-alive connections
// at once, and a client that is just sending its next request on one sees ECONNRESET.
// Before such a stop the primary sends NODE_RUST_CLUSTER_DRAIN: from then on every response
// carries `Connection: close` (through the http.server.request.start diagnostics channel,
// no patching), so each client closes its connection after its next answer and opens a new
// one, which the primary routes elsewhere. When no connection that carried a request is
// left, the worker says NODE_RUST_CLUSTER_DRAINED and the primary disconnects it.
const cluster = require('cluster');
const diagnostics = require('diagnostics_channel');

if (cluster.isWorker) {
  let draining = false;
  let reported = false;
  const sockets = new Set();

  const reportIfDrained = () => {
    if (!draining || reported || sockets.size > 0 || !process.connected) return;
    reported = true;
    process.send({ cmd: 'NODE_RUST_CLUSTER_DRAINED' });
  };

  diagnostics.subscribe('http.server.request.start', ({ response, socket }) => {
    if (draining) response.shouldKeepAlive = false;
    if (sockets.has(socket)) return;
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      reportIfDrained();
    });
  });

  process.on('internalMessage', (message) => {
    if (message === null || typeof message !== 'object' || message.cmd !== 'NODE_RUST_CLUSTER_DRAIN') return;
    draining = true;
    reportIfDrained();
  });
}
