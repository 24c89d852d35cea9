'use strict';
// Starting scenario scripts (and other helpers) as tagged child processes, talking to them
// through a line protocol, and killing everything they started.
//
// Every process gets RUST_CLUSTER_BENCH_TAG=<run tag>:<n> in its environment; cluster
// workers inherit it, so leftovers are found and killed through /proc/*/environ, as the
// test helpers do (they are not our children, so nothing else would reach them).
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const USE_BUILTIN = path.join(ROOT, '__test__', 'helpers', 'use-builtin.js');
const TAG_VAR = 'RUST_CLUSTER_BENCH_TAG';
const RUN_TAG = `${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
const MESSAGE_PREFIX = '@bench ';
let sequence = 0;
let taskset = null; // path of taskset, set by setTaskset()

function setTaskset(pathOrNull) {
  taskset = pathOrNull;
}

/** Pids of live (non-zombie) processes whose tag starts with `prefix`. */
function listTagged(prefix) {
  const needle = `${TAG_VAR}=${prefix}`;
  const pids = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const environ = fs.readFileSync(`/proc/${name}/environ`, 'latin1');
      if (!environ.includes(needle)) continue;
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
      const state = stat[stat.lastIndexOf(')') + 2];
      if (state !== 'Z' && state !== 'X') pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function killTagged(prefix) {
  const pids = listTagged(prefix);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Kill every process with `prefix` and wait (bounded) until none is left. */
async function killAndWait(prefix, timeout = 10000) {
  const deadline = Date.now() + timeout;
  while (killTagged(prefix).length > 0) {
    if (Date.now() > deadline) throw new Error(`processes tagged ${prefix} survive SIGKILL`);
    await sleep(20);
  }
}

/** The final sweep: everything this run started. Synchronous, for 'exit' handlers. */
function killEverything() {
  killTagged(`${RUN_TAG}:`);
}

/**
 * Start a command. options: impl ('builtin' | 'rust' | undefined for plain commands),
 * node (true: run `node [preload] file args`), cpu (pin with taskset), env, timeout.
 * Lines on stdout that start with "@bench " are JSON messages; all other output is kept
 * for error reports.
 */
function start(file, { args = [], impl, node = true, cpu = null, env = {}, stdin = 'pipe' } = {}) {
  const tag = `${RUN_TAG}:${++sequence}`;
  let command = file;
  let argv = [...args];
  if (node) {
    const preload = impl === 'builtin' ? ['-r', USE_BUILTIN] : [];
    command = process.execPath;
    argv = [...preload, file, ...args];
  }
  if (cpu != null && taskset) {
    argv = ['-c', String(cpu), command, ...argv];
    command = taskset;
  }
  const childEnv = { ...process.env, ...env, [TAG_VAR]: tag };
  for (const key of ['NODE_UNIQUE_ID', 'NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE']) delete childEnv[key];
  for (const [key, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[key];

  const child = spawn(command, argv, { cwd: ROOT, env: childEnv, stdio: [stdin, 'pipe', 'pipe'] });
  const output = [];
  const messages = [];
  const waiters = new Set();
  let closed = false;
  let exitStatus = null;

  const proc = {
    child,
    pid: child.pid,
    tag,
    output,
    messages,
    /** Resolves with the first message of `type` (after index `from`); rejects on timeout or exit. */
    waitFor(type, { timeout = 60000, from = 0 } = {}) {
      const find = () => messages.slice(from).find((m) => m.type === type);
      const found = find();
      if (found) return Promise.resolve(found);
      if (closed) return Promise.reject(failure(`exited before sending "${type}"`));
      return new Promise((resolve, reject) => {
        const waiter = { find, resolve, reject, type };
        waiter.timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(failure(`timed out after ${timeout} ms waiting for "${type}"`));
        }, timeout);
        waiters.add(waiter);
      });
    },
    /** Send one JSON command line on stdin. */
    send(obj) {
      child.stdin.write(`${JSON.stringify(obj)}\n`);
    },
    exited: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, output }))),
    /** Kill the process and everything it started; resolves once all are gone. */
    async cleanup() {
      await killAndWait(tag);
      await Promise.race([proc.exited, sleep(2000)]);
      child.stdout.destroy();
      child.stderr.destroy();
      child.stdin?.destroy();
    },
  };

  function failure(what) {
    const tail = output.slice(-30).join('\n');
    const status = exitStatus ? ` (exit code ${exitStatus.code}, signal ${exitStatus.signal})` : '';
    return new Error(`${path.basename(file)} ${args.join(' ')} [${impl ?? ''}]: ${what}${status}${tail ? `\n  ${tail.replace(/\n/g, '\n  ')}` : ''}`);
  }

  function poke() {
    for (const waiter of waiters) {
      const found = waiter.find();
      if (found) {
        clearTimeout(waiter.timer);
        waiters.delete(waiter);
        waiter.resolve(found);
      }
    }
  }

  function onLine(line) {
    if (line.startsWith(MESSAGE_PREFIX)) {
      try {
        messages.push(JSON.parse(line.slice(MESSAGE_PREFIX.length)));
        poke();
        return;
      } catch {
        // not ours after all: keep it as output
      }
    }
    output.push(line);
    if (output.length > 500) output.splice(0, output.length - 500);
  }

  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop();
      lines.forEach(onLine);
    });
    stream.on('end', () => {
      if (pending) onLine(pending);
      pending = '';
    });
  }
  child.stdin?.on('error', () => {}); // EPIPE when the process is already gone
  child.on('error', (err) => output.push(`[bench] spawn error: ${err.message}`));
  child.on('close', (code, signal) => {
    closed = true;
    exitStatus = { code, signal };
    poke();
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(failure(`exited before sending "${waiter.type}"`));
    }
    waiters.clear();
  });
  return proc;
}

/**
 * Run a scenario to completion: start it, wait for its "result" message, clean up.
 * Resolves with the result message.
 */
async function runScenario(file, options = {}) {
  const proc = start(file, options);
  try {
    return await proc.waitFor('result', { timeout: options.timeout ?? 60000 });
  } finally {
    await proc.cleanup();
  }
}

module.exports = { ROOT, USE_BUILTIN, TAG_VAR, RUN_TAG, setTaskset, start, runScenario, killEverything, killAndWait, sleep };
