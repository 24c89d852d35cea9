'use strict';
// Handles that travel with messages: the descriptor to send for a net/dgram object, and
// the object to build from a descriptor a worker sent, as Node's handleConversion does.
const net = require('net');
const dgram = require('dgram');
const fs = require('fs');
const { ERR_INVALID_HANDLE_TYPE } = require('./errors');

function dgramState(socket) {
  const sym = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  return sym ? socket[sym] : undefined;
}

/**
 * What to send for `handle`: `{ type, fd, afterSend }`, or null when it has no descriptor
 * (Node then sends the message alone). Throws ERR_INVALID_HANDLE_TYPE like Node.
 */
function describeOutgoing(handle, options) {
  if (handle instanceof net.Socket) {
    const native = handle._handle;
    if (!native || typeof native.fd !== 'number' || native.fd < 0) return null;
    return {
      type: 'net.Socket',
      fd: native.fd,
      // Like Node: unless keepOpen, the socket lets go of its handle once sent.
      afterSend() {
        if (options.keepOpen) return;
        if (handle.server) handle.server._connections--;
        native.onread = () => {};
        handle._handle = null;
        handle.setTimeout(0);
        native.close();
      },
    };
  }
  if (handle instanceof net.Server) {
    const native = handle._handle;
    if (!native || typeof native.fd !== 'number' || native.fd < 0) return null;
    return { type: 'net.Server', fd: native.fd, afterSend() {} };
  }
  if (handle instanceof dgram.Socket) {
    const native = dgramState(handle)?.handle;
    if (!native || typeof native.fd !== 'number' || native.fd < 0) return null;
    return { type: 'dgram.Socket', fd: native.fd, afterSend() {}, dgramType: handle.type };
  }
  const name = handle?.constructor?.name;
  if ((name === 'TCP' || name === 'Pipe') && typeof handle.fd === 'number') {
    return { type: 'net.Native', fd: handle.fd, afterSend() {} };
  }
  if (name === 'UDP' && typeof handle.fd === 'number') {
    return { type: 'dgram.Native', fd: handle.fd, afterSend() {} };
  }
  throw ERR_INVALID_HANDLE_TYPE();
}

/** Builds the object a received descriptor stands for; calls `emit(object)` when ready. */
function adoptIncoming(type, fd, wrapper, emit) {
  switch (type) {
    case 'net.Server': {
      const server = new net.Server();
      server.listen({ fd }, () => emit(server));
      return;
    }
    case 'dgram.Socket':
    case 'dgram.Native': {
      const socket = dgram.createSocket(wrapper.dgramType || 'udp4');
      socket.bind({ fd }, () => emit(socket));
      return;
    }
    case 'net.Socket':
    case 'net.Native':
    default: {
      let socket;
      try {
        socket = new net.Socket({ fd, readable: true, writable: true });
      } catch {
        try { fs.closeSync(fd); } catch {}
        emit(undefined);
        return;
      }
      emit(socket);
    }
  }
}

module.exports = { describeOutgoing, adoptIncoming };
