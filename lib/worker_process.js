'use strict';
// `worker.process`: a ChildProcess-like EventEmitter over a worker the Rust core spawned.
// Fields, methods, events and their timing follow Node's ChildProcess and setupChannel
// (lib/internal/child_process.js); the channel itself lives in Rust.
const EventEmitter = require('events');
const net = require('net');
const os = require('os');
const { native, spawn, sendString, sendFrame, register, unregister } = require('./native_primary');
const { ref, unref } = require('./keep_alive');
const { nextTick, setImmediate } = require('./scheduling');
const serializers = require('./serialization');
const { describeOutgoing, adoptIncoming } = require('./handles');
const { SocketListReceive } = require('./socket_list');
const { claimReply: claimMetricsReply } = require('./metrics');
const {
  ERR_INVALID_ARG_TYPE,
  ERR_IPC_CHANNEL_CLOSED,
  ERR_IPC_DISCONNECTED,
  ERR_MISSING_ARGS,
  ERR_UNKNOWN_SIGNAL,
  errnoException,
} = require('./errors');

const UV_ESRCH = -os.constants.errno.ESRCH;
// Spawn failures Node reports as an asynchronous 'error' event rather than a throw.
const ASYNC_SPAWN_ERRORS = ['EACCES', 'EAGAIN', 'EMFILE', 'ENFILE', 'ENOENT'].map((c) => -os.constants.errno[c]);
/* If the worker is > 2 reads behind, Node's send() returns false. */
const BACKPRESSURE_BYTES = 65536 * 2;

function isInternal(message) {
  return message !== null && typeof message === 'object' && typeof message.cmd === 'string' &&
    message.cmd.length > 5 && message.cmd.startsWith('NODE_');
}

/** Node's convertToValidSignal. */
function signalNumber(signal) {
  if (typeof signal === 'number' && Object.values(os.constants.signals).includes(signal)) return signal;
  if (typeof signal === 'string') {
    const number = os.constants.signals[signal.toUpperCase()];
    if (number !== undefined) return number;
  }
  throw ERR_UNKNOWN_SIGNAL(signal);
}

class WorkerProcess extends EventEmitter {
  /**
   * @param {number} id the cluster worker id (the core's key for this worker)
   * @param {object} spec validated spawn options: execPath, args, envPairs, cwd, uid, gid,
   *   stdio (normalized strings for 0..2), ipcFd, serialization, slot (supervision's)
   */
  constructor(id, spec) {
    super();
    this._id = id;
    // How this side encodes what it sends (Node's `serialization` option); what arrives
    // says itself how it is encoded (see _decode).
    this._serializer = serializers[spec.serialization];
    this.connected = false;
    this.signalCode = null;
    this.exitCode = null;
    this.killed = false;
    this.spawnfile = spec.execPath;
    this.spawnargs = [spec.execPath, ...spec.args];
    this.pid = undefined;
    this.stdin = null;
    this.stdout = null;
    this.stderr = null;
    this.stdio = [];
    this.channel = undefined;
    this._exited = false;
    this._channelOpen = false;
    this._processRef = true;
    this._channelRef = true;
    this._holdsRef = false;
    this._closesNeeded = 1;
    this._closesGot = 0;
    this._nextWriteId = 1;
    this._writeCallbacks = new Map();
    // Sockets this worker's servers sent us: the worker's server.close() waits for them.
    this._receivedSockets = new SocketListReceive((message) => this._sendInternal(message));
    this._spawn(spec);
  }

  _spawn(spec) {
    const result = spawn({
      id: this._id,
      execPath: spec.execPath,
      args: spec.args,
      env: spec.envPairs,
      cwd: spec.cwd,
      uid: spec.uid,
      gid: spec.gid,
      stdio: spec.stdio,
      channelFd: spec.ipcFd,
      serialization: spec.serialization,
      logFormat: spec.logFormat,
      slot: spec.slot,
      cpuAffinity: spec.cpuAffinity,
    });
    if (result.errno !== 0) {
      // Node throws `spawn EPERM` at once for most failures, and reports the few it
      // treats as run-time errors later as `spawn <file> ENOENT` with path and spawnargs.
      if (!ASYNC_SPAWN_ERRORS.includes(result.errno)) throw errnoException(result.errno, 'spawn');
      const err = errnoException(result.errno, `spawn ${spec.execPath}`);
      err.path = spec.execPath;
      err.spawnargs = spec.args;
      // As Node: the process object stays "connected" to a channel nobody is on, and its
      // exitCode becomes the errno when the 'error' is emitted.
      this._exited = true;
      this.connected = true;
      nextTick(() => {
        this.exitCode = result.errno;
        this.emit('error', err);
      });
      return;
    }
    this.pid = result.pid;
    register(this._id, this);
    this.connected = true;
    this._channelOpen = true;
    this._closesNeeded++; // the IPC channel's end counts toward 'close', as in Node
    this.channel = this._makeControl();
    this._adoptStdio(result.stdio);
    this._updateRef();
    nextTick(() => this.emit('spawn'));
  }

  _makeControl() {
    const proc = this;
    return {
      ref() { proc._channelRef = true; proc._updateRef(); },
      unref() { proc._channelRef = false; proc._updateRef(); },
      get fd() { return undefined; },
    };
  }

  _adoptStdio(fds) {
    for (let i = 0; i < fds.length; i++) {
      const fd = fds[i];
      if (fd === undefined || fd < 0) {
        this.stdio.push(null);
        continue;
      }
      const readable = i > 0;
      const socket = new net.Socket({ fd, readable, writable: true });
      if (readable) {
        this._closesNeeded++;
        socket.on('close', () => this._maybeClose());
      }
      this.stdio.push(socket);
    }
    [this.stdin, this.stdout, this.stderr] = this.stdio;
  }

  // Node keeps its primary alive through the process handle until exit and through the
  // IPC pipe until it closes; either can be unref'd.
  _updateRef() {
    const wanted = (!this._exited && this._processRef) || (this._channelOpen && this._channelRef);
    if (wanted !== this._holdsRef) {
      this._holdsRef = wanted;
      if (wanted) ref();
      else unref();
    }
  }

  ref() {
    this._processRef = true;
    this._updateRef();
  }

  unref() {
    this._processRef = false;
    this._updateRef();
  }

  _maybeClose() {
    if (++this._closesGot === this._closesNeeded) {
      this.emit('close', this.exitCode, this.signalCode);
    }
  }

  // ChildProcess's: `using proc = ...` kills it at the end of the scope unless killed.
  [Symbol.dispose]() {
    if (!this.killed) this.kill();
  }

  kill(sig) {
    const signal = sig === 0 ? sig : signalNumber(sig === undefined ? 'SIGTERM' : sig);
    if (!this._exited && this.pid !== undefined) {
      const err = native().kill(this._id, signal);
      if (err === 0) {
        this.killed = true;
        return true;
      }
      if (err !== UV_ESRCH) {
        this.emit('error', errnoException(err, 'kill'));
      }
    }
    return false;
  }

  send(message, handle, options, callback) {
    if (typeof handle === 'function') {
      callback = handle;
      handle = undefined;
      options = undefined;
    } else if (typeof options === 'function') {
      callback = options;
      options = undefined;
    } else if (options !== undefined &&
               (options === null || typeof options !== 'object' || Array.isArray(options))) {
      throw ERR_INVALID_ARG_TYPE('options', 'object', options);
    }
    options = { swallowErrors: false, ...options };
    if (this.connected) return this._send(message, handle, options, callback);
    const ex = ERR_IPC_CHANNEL_CLOSED();
    if (typeof callback === 'function') nextTick(callback, ex);
    else nextTick(() => this.emit('error', ex));
    return false;
  }

  _send(message, handle, options, callback) {
    if (message === undefined) throw ERR_MISSING_ARGS('message');
    if (typeof message !== 'string' && typeof message !== 'object' &&
        typeof message !== 'number' && typeof message !== 'boolean') {
      throw ERR_INVALID_ARG_TYPE('message', ['string', 'object', 'number', 'boolean'], message);
    }
    let outgoing = null;
    let payload = message;
    if (handle) {
      outgoing = describeOutgoing(handle, options);
      if (outgoing) {
        payload = { cmd: 'NODE_HANDLE', type: outgoing.type, msg: message };
        if (outgoing.dgramType) payload.dgramType = outgoing.dgramType;
      }
    }
    const writeId = typeof callback === 'function' ? this._nextWriteId++ : 0;
    const encoded = this._serializer.encode(payload);
    let result;
    if (outgoing) {
      result = sendFrame(this._id, Buffer.from(encoded), outgoing.fd, writeId);
    } else if (typeof encoded === 'string') {
      result = sendString(this._id, encoded, writeId);
    } else {
      result = sendFrame(this._id, encoded, -1, writeId);
    }
    // A negative errno, or the bytes still queued for the worker, 0 when the frame is
    // written (src/lib.rs send_outcome).
    if (result < 0) {
      if (!options.swallowErrors) {
        const ex = errnoException(result, 'write');
        if (typeof callback === 'function') nextTick(callback, ex);
        else nextTick(() => this.emit('error', ex));
      }
      return false;
    }
    if (outgoing) outgoing.afterSend();
    if (writeId !== 0) {
      // Callbacks run in send order: one whose write finished at once still waits for
      // earlier writes that are queued.
      this._writeCallbacks.set(writeId, callback);
      if (result === 0) this._writesDone(writeId);
    }
    return result < BACKPRESSURE_BYTES;
  }

  // Frames are written in order, so every write up to `id` is complete.
  _writesDone(id) {
    for (const [pending, callback] of this._writeCallbacks) {
      if (pending > id) break;
      this._writeCallbacks.delete(pending);
      nextTick(callback, null);
    }
  }

  disconnect() {
    if (!this.connected) {
      this.emit('error', ERR_IPC_DISCONNECTED());
      return;
    }
    this.connected = false;
    native().closeChannel(this._id);
    this._channelClosed();
    nextTick(() => this.emit('disconnect'));
  }

  _channelClosed() {
    this._channelOpen = false;
    this._updateRef();
    // Like libuv cancelling queued writes: their callbacks still run.
    for (const callback of this._writeCallbacks.values()) nextTick(callback, null);
    this._writeCallbacks.clear();
    this._forgetIfDone();
  }

  _forgetIfDone() {
    if (this._exited && !this._channelOpen) unregister(this._id);
  }

  // The core typed the frame by the channel's serialization (src/delivery.rs
  // EVENT_LAYOUT): JSON text arrives as `text`, V8 bytes as `bytes`.
  _decode(event) {
    return event.bytes === undefined ? serializers.json.decode(event.text) : serializers.advanced.decode(event.bytes);
  }

  _onNativeEvent(event) {
    switch (event.kind) {
      case 'message': return this._onMessage(event);
      case 'internal': return this._onInternal(event);
      case 'written':
        this._writesDone(event.writeId);
        return;
      case 'disconnect': return this._onChannelEnd();
      case 'exit': return this._onExit(event);
      case 'error': {
        const err = new Error(`rust-cluster: worker ${this.pid} broke the IPC protocol: ${event.text}`);
        err.code = 'ERR_IPC_PROTOCOL';
        nextTick(() => this.emit('error', err));
        return;
      }
    }
  }

  _onMessage(event) {
    if (this._broken) {
      if (event.fd != null) require('fs').closeSync(event.fd);
      return;
    }
    let message;
    try {
      message = this._decode(event);
    } catch (cause) {
      if (event.fd != null) require('fs').closeSync(event.fd);
      const err = new Error(`rust-cluster: worker ${this.pid} sent a message that cannot be parsed: ${cause.message}`);
      err.code = 'ERR_IPC_PROTOCOL';
      // Nothing more from this worker is believed: kill it and stop reading it. SIGKILL
      // first: a Node worker whose channel closes leaves by itself, and on a loaded machine
      // it could be gone (exit code 0) before a signal sent after the close.
      this._broken = true;
      this.kill('SIGKILL');
      native().closeChannel(this._id);
      nextTick(() => this.emit('error', err));
      // The channel is closed as if the worker had closed it.
      this._onChannelEnd();
      return;
    }
    if (event.fd == null) {
      nextTick(() => this._emitMessage(message, undefined));
      return;
    }
    adoptIncoming(event.handleType, event.fd, message, (handle) => {
      if (message.key && handle instanceof net.Socket) this._receivedSockets.add(message.key, handle);
      nextTick(() => this._emitMessage(message.msg, handle));
    });
  }

  _sendInternal(message) {
    if (!this.connected) return;
    this._send(message, undefined, { swallowErrors: true });
  }

  _emitMessage(message, handle) {
    // Answers to the metrics endpoint's requests are the primary's own (lib/metrics.js).
    if (handle === undefined && claimMetricsReply(this._id, message)) return;
    this.emit(isInternal(message) ? 'internalMessage' : 'message', message, handle);
  }

  _onInternal(event) {
    if (this._broken) return;
    let message;
    try {
      message = this._decode(event);
    } catch {
      return;
    }
    if (typeof event.act === 'string' && event.act.startsWith('NODE_SOCKET_')) {
      this._receivedSockets.onRequest(message);
      return;
    }
    // NODE_RUST_CLUSTER_* (from lib/worker_preload.js) goes on as an internal message.
    nextTick(() => this.emit('internalMessage', message, undefined));
  }

  // The worker closed its end (or died): Node's onread(EOF) path.
  _onChannelEnd() {
    if (!this._channelOpen) return;
    const wasConnected = this.connected;
    this.connected = false;
    this._channelClosed();
    if (wasConnected) nextTick(() => this.emit('disconnect'));
    this._maybeClose();
  }

  _onExit(event) {
    this._exited = true;
    this._updateRef();
    this._forgetIfDone();
    // The exit becomes visible (exitCode, isDead()) when it is emitted: after a
    // 'disconnect' of the same batch, as when Node sees the two in separate callbacks.
    const emitExit = () => {
      if (event.signal) this.signalCode = event.signal;
      else this.exitCode = event.code;
      if (this.stdin) this.stdin.destroy();
      this.emit('exit', this.exitCode, this.signalCode);
      // Pull through any stdio nobody read, so 'close' can come (Node's flushStdio).
      for (const stream of this.stdio) {
        if (stream && stream.readable && !stream.readableFlowing && stream.listenerCount('data') === 0) {
          stream.resume();
        }
      }
      this._maybeClose();
    };
    // A dead worker's pipes are at EOF before its exit can be seen, and Node's primary
    // reads them in the loop turn that sees the exit, so the output being read ends
    // ('end') before 'exit'. The core's exit notice can come before Node's loop has polled
    // the pipes: let it poll once more (the second immediate runs after the next poll).
    const reading = this.stdio.some((stream, fd) => fd > 0 && stream?.readableFlowing && !stream.readableEnded);
    if (reading) setImmediate(() => setImmediate(emitExit));
    else nextTick(emitExit);
  }
}

module.exports = { WorkerProcess, signalNumber };
