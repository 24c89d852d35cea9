'use strict';
// A round-robin TCP listener the core asked for (an `open` event), opened the way Node's
// RoundRobinHandle opens it, with net.Server#listen; its descriptor goes to the core,
// which accepts on it.
const net = require('net');

/** `owner`: the native primary that asked (one that has ended since ignores the answer). */
function openListener(event, owner) {
  const request = JSON.parse(event.text);
  const server = net.createServer(() => {});
  server.once('listening', () => {
    owner.listenerOpened(event.server, server._handle.fd);
    server.close();
  });
  server.once('error', (err) => owner.listenerFailed(event.server, typeof err.errno === 'number' ? err.errno : -22));
  server.listen({
    port: request.port,
    host: request.host ?? undefined,
    ipv6Only: request.ipv6Only,
    backlog: request.backlog ?? undefined,
  });
}

module.exports = { openListener };
