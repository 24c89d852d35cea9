'use strict';
// Where an unresponsive worker is stuck, taken from outside: SIGUSR1 (sent by the core)
// makes Node open its inspector on a thread of its own even while the JavaScript thread
// spins, and the inspector's Debugger.pause interrupts running JavaScript (V8 checks for
// interrupts at loop back edges), so the paused event carries the stuck call stack. The
// diagnostic report and heap snapshot on a signal, by contrast, are JavaScript signal
// handlers and never run in a blocked loop. Needs the global WebSocket (Node 22+).
const fs = require('fs');
const { setTimeout } = require('./scheduling');

const available = typeof WebSocket === 'function' && typeof fetch === 'function';

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

function pausedStack(url, deadline) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    const scripts = new Map();
    const done = (stack) => {
      clearTimeout(timer);
      try { ws.close(); } catch {}
      resolve(stack);
    };
    const timer = setTimeout(() => done(null), Math.max(0, deadline - Date.now()));
    timer.unref();
    ws.onerror = () => done(null);
    ws.onopen = () => {
      ws.send(JSON.stringify({ id: 1, method: 'Debugger.enable' }));
      ws.send(JSON.stringify({ id: 2, method: 'Debugger.pause' }));
    };
    ws.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      if (msg.method === 'Debugger.scriptParsed') scripts.set(msg.params.scriptId, msg.params.url);
      if (msg.method !== 'Debugger.paused') return;
      done(msg.params.callFrames.map((f) => {
        const where = `${scripts.get(f.location.scriptId) || f.url || '<anonymous>'}:` +
          `${f.location.lineNumber + 1}:${f.location.columnNumber + 1}`;
        return `    at ${f.functionName || '<anonymous>'} (${where})`;
      }).join('\n'));
    };
  });
}

/** The JavaScript stack of `pid` (already sent SIGUSR1), or null by `deadline` (epoch ms). */
async function captureStack(pid, deadline) {
  if (!available) return null;
  try {
    let port;
    while (port === undefined && Date.now() < deadline) {
      port = listeningPort(pid);
      if (port === undefined) await sleep(20);
    }
    if (port === undefined) return null;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now()));
    timer.unref();
    const list = await (await fetch(`http://127.0.0.1:${port}/json/list`, { signal: controller.signal })).json();
    clearTimeout(timer);
    const target = list.find((t) => t.webSocketDebuggerUrl);
    return target ? await pausedStack(target.webSocketDebuggerUrl, deadline) : null;
  } catch {
    return null;
  }
}

module.exports = { captureStack, available };
