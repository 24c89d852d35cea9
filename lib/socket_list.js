'use strict';
// The sockets a worker's servers sent to the primary, counted by server key, as Node's
// SocketListReceive (lib/internal/socket_list.js) counts them. The worker's SocketListSend
// (Node's own code) asks with NODE_SOCKET_NOTIFY_CLOSE and NODE_SOCKET_GET_COUNT, so its
// server.close() can wait until every socket it sent is closed here; the answers are
// NODE_SOCKET_ALL_CLOSED and NODE_SOCKET_COUNT.

class SocketListReceive {
  /** @param {(message: object) => void} send an internal message to the worker */
  constructor(send) {
    this._send = send;
    this._lists = new Map();
  }

  _list(key) {
    let list = this._lists.get(key);
    if (!list) {
      list = { connections: 0, notifyWhenEmpty: false };
      this._lists.set(key, list);
    }
    return list;
  }

  /** A socket that arrived from the worker's server `key`: counted until it closes. */
  add(key, socket) {
    const list = this._list(key);
    list.connections++;
    socket.once('close', () => {
      if (--list.connections === 0 && list.notifyWhenEmpty) {
        list.notifyWhenEmpty = false;
        this._send({ cmd: 'NODE_SOCKET_ALL_CLOSED', key });
      }
    });
  }

  /** NODE_SOCKET_NOTIFY_CLOSE / NODE_SOCKET_GET_COUNT from the worker's socket list. */
  onRequest(message) {
    const list = this._list(message.key);
    if (message.cmd === 'NODE_SOCKET_NOTIFY_CLOSE') {
      if (list.connections === 0) this._send({ cmd: 'NODE_SOCKET_ALL_CLOSED', key: message.key });
      else list.notifyWhenEmpty = true;
    } else if (message.cmd === 'NODE_SOCKET_GET_COUNT') {
      this._send({ cmd: 'NODE_SOCKET_COUNT', key: message.key, count: list.connections });
    }
  }
}

module.exports = { SocketListReceive };
