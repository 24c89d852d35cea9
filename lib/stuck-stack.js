'use strict';
// Where an unresponsive worker is stuck, taken from outside: SIGUSR1 (sent by the core)
// makes Node open its inspector on a thread of its own even while the JavaScript thread
// spins, and the inspector's Debugger.pause interrupts running JavaScript (V8 checks for
// interrupts at loop back edges), so the paused event carries the stuck call stack. The
// diagnostic report and heap snapshot on a signal, by contrast, are JavaScript signal
// handlers and never run in a blocked loop. The inspector speaks WebSocket: the small
// client below covers what it needs (text frames), on every Node line.
const fs = require('fs');
const { setTimeout } = require('./scheduling');

const crypto = require('crypto');
const http = require('http');

function socketInodes(pid) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]);
    } catch {}
  }
  return inodes;
}

/** The port the process listens on over TCP (its inspector: a worker's servers are the primary's). */
function listeningPort(pid) {
  const inodes = socketInodes(pid);
  for (const table of ['tcp', 'tcp6']) {
    let text;
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9])) return parseInt(f[1].split(':').pop(), 16);
    }
  }
  return undefined;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** A client frame: FIN, the opcode, masked as RFC 6455 requires of clients. */
function frame(opcode, text) {
  const payload = Buffer.from(text);
  const mask = crypto.randomBytes(4);
  const length = payload.length;
  const head = length < 126 ? Buffer.from([0x80 | opcode, 0x80 | length])
    : length < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff])
      : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), (() => {
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(BigInt(length));
        return b;
      })()]);
  for (let i = 0; i < length; i++) payload[i] ^= mask[i % 4];
  return Buffer.concat([head, mask, payload]);
}

/** Splits the server's (unmasked) frames off `buffer`; calls `onText` per whole message. */
function reader(onText) {
  let buffer = Buffer.alloc(0);
  let parts = [];
  return (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (buffer.length < 2) return;
      let length = buffer[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) return;
      const fin = (buffer[0] & 0x80) !== 0;
      const opcode = buffer[0] & 0x0f;
      const payload = buffer.subarray(offset, offset + length);
      buffer = buffer.subarray(offset + length);
      if (opcode === 0x1 || opcode === 0x0) {
        parts.push(payload);
        if (fin) {
          onText(Buffer.concat(parts).toString());
          parts = [];
        }
      }
    }
  };
}

/** Connects to the inspector's WebSocket, pauses the JavaScript thread, returns its stack. */
function pausedStack(url, deadline) {
  return new Promise((resolve) => {
    const { hostname, port, pathname } = new URL(url);
    let socket = null;
    const scripts = new Map();
    const done = (stack) => {
      clearTimeout(timer);
      if (socket) socket.destroy();
      req.destroy();
      resolve(stack);
    };
    const timer = setTimeout(() => done(null), Math.max(0, deadline - Date.now()));
    timer.unref();
    const req = http.request({
      host: hostname,
      port,
      path: pathname,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'),
        'Sec-WebSocket-Version': '13',
      },
    });
    req.on('error', () => done(null));
    req.on('response', () => done(null));
    req.on('upgrade', (res, upgraded, head) => {
      socket = upgraded;
      socket.on('error', () => done(null));
      socket.on('close', () => done(null));
      const onData = reader((text) => {
        let msg;
        try { msg = JSON.parse(text); } catch { return; }
        if (msg.method === 'Debugger.scriptParsed') scripts.set(msg.params.scriptId, msg.params.url);
        if (msg.method !== 'Debugger.paused') return;
        done(msg.params.callFrames.map((f) => {
          const where = `${scripts.get(f.location.scriptId) || f.url || '<anonymous>'}:` +
            `${f.location.lineNumber + 1}:${f.location.columnNumber + 1}`;
          return `    at ${f.functionName || '<anonymous>'} (${where})`;
        }).join('\n'));
      });
      socket.on('data', onData);
      if (head.length > 0) onData(head);
      socket.write(frame(0x1, JSON.stringify({ id: 1, method: 'Debugger.enable' })));
      socket.write(frame(0x1, JSON.stringify({ id: 2, method: 'Debugger.pause' })));
    });
    req.end();
  });
}

/** The inspector's targets (`/json/list`). */
function targets(port, deadline) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/json/list', timeout: Math.max(1, deadline - Date.now()) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => {
        try { resolve(JSON.parse(body)); } catch (err) { reject(err); }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** The JavaScript stack of `pid` (already sent SIGUSR1), or null by `deadline` (epoch ms). */
async function captureStack(pid, deadline) {
  try {
    let port;
    while (port === undefined && Date.now() < deadline) {
      port = listeningPort(pid);
      if (port === undefined) await sleep(20);
    }
    if (port === undefined) return null;
    const list = await targets(port, deadline);
    const target = list.find((t) => t.webSocketDebuggerUrl);
    return target ? await pausedStack(target.webSocketDebuggerUrl, deadline) : null;
  } catch {
    return null;
  }
}

module.exports = { captureStack };
