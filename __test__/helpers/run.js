'use strict';
// Shared harness for the JS tests: run a script as a real `node` child
// process, collect its output line by line, wait for lines (never sleep),
// and clean up the process and every cluster worker it started.
//
// Implementation selection: RUST_CLUSTER_TEST_IMPL=builtin (or the option
// `impl: 'builtin'`) preloads ./use-builtin.js, which redirects
// require('rust-cluster') to Node's built-in `cluster`. Otherwise the real
// package is used (self-reference through package.json "exports").

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { ROOT, USE_BUILTIN, implArgs, childEnv, uniqueTag, tagged, groupMembers } = require('./processes.js');
const { readLines, waitList } = require('./lines.js');

const DEFAULT_TIMEOUT = Number(process.env.RUST_CLUSTER_TEST_TIMEOUT_MS ?? 30000);
const TAG_VAR = 'RUST_CLUSTER_TEST_TAG';
const testProcesses = tagged(TAG_VAR);

// Every started process that has not been cleaned up yet.
const live = new Set();

function selectedImpl(impl) {
  const value = impl ?? process.env.RUST_CLUSTER_TEST_IMPL ?? 'rust';
  if (value !== 'builtin' && value !== 'rust') {
    throw new Error(`unknown impl ${JSON.stringify(value)} (expected "builtin" or "rust")`);
  }
  return value;
}

/**
 * Pids of all live processes whose environment carries `RUST_CLUSTER_TEST_TAG=<tag>`
 * (with `workersOnly`, only those that are cluster workers: NODE_UNIQUE_ID set).
 */
const listTagged = (tag, { workersOnly = false } = {}) => testProcesses.list(tag, { workersOnly });
const killTagged = (tag, signal = 'SIGKILL') => testProcesses.kill(tag, { signal });
/** Resolves once no process carries the tag any more; rejects after `timeout`. */
const waitForNoTagged = (tag, { timeout = DEFAULT_TIMEOUT, exclude = [] } = {}) => testProcesses.waitForNone(tag, { timeout, exclude });

/**
 * Start `node [nodeArgs] script [args]`.
 *
 * options:
 *   execPath  the node binary (default: this one); the workers run it too
 *   env       extra environment (a value of undefined removes the variable)
 *   impl      'builtin' | 'rust' (default: $RUST_CLUSTER_TEST_IMPL or 'rust')
 *   args      script arguments
 *   nodeArgs  extra node options (before the script)
 *   detached  start in a new process group (to signal the whole group)
 *   cwd       working directory (default: the package root)
 *   wrapper   (tag) => argv of a program that execs the rest (`node ...`) in the same
 *             process (systemd-socket-activate, setpriv); it must pass the tag variable
 *             on, whose name and value it is given
 */
function start(script, options = {}) {
  const { detached = false } = options;
  const { child, tag, scriptPath } = spawnScript(script, options);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const closed = new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const output = collectOutput(child);
  const report = () => outputReport(output.lines, scriptPath, child.pid);

  const proc = {
    child,
    pid: child.pid,
    tag,
    script: scriptPath,
    lines: output.lines,
    ...outputMethods(output, report),
    ...signalMethods(child, detached),
    /** Promise of { code, signal } once the primary exited. */
    exited,
    /** Promise of { code, signal } once the primary exited and every holder of its output pipes is gone. */
    closed,
    ...processMethods(child, tag, exited, report),
    /** Kill the primary and any leftover worker; resolves once they are gone. */
    async cleanup() {
      await killRun(child, tag, detached, exited);
      live.delete(proc);
    },
  };
  live.add(proc);
  return proc;
}

/** Spawns the script of start() (same options) as a tagged process: { child, tag, scriptPath }. */
function spawnScript(script, { env = {}, impl, args = [], nodeArgs = [], detached = false, cwd = ROOT, execPath = process.execPath, wrapper }) {
  const tag = uniqueTag();
  const scriptPath = path.resolve(ROOT, script);
  const command = [execPath, ...nodeArgs, ...implArgs(selectedImpl(impl)), scriptPath, ...args];
  if (wrapper) command.unshift(...wrapper(`${TAG_VAR}=${tag}`));
  const child = spawn(command[0], command.slice(1), {
    cwd,
    // Never leak the test runner's own context into the examples.
    env: childEnv({ ...env, [TAG_VAR]: tag }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
  });
  return { child, tag, scriptPath };
}

/**
 * The child's stdout and stderr, interleaved by arrival, line by line: { lines, waiters }.
 * The waiters are rechecked as lines come and ended once the child and its pipes are closed.
 */
function collectOutput(child) {
  const lines = [];
  const waiters = waitList();
  for (const stream of [child.stdout, child.stderr]) {
    readLines(stream, (more) => {
      lines.push(...more);
      waiters.recheck();
    });
  }
  child.on('error', (err) => {
    lines.push(`[harness] spawn error: ${err.message}`);
  });
  child.on('close', () => waiters.end());
  return { lines, waiters };
}

/** The last 200 lines of a process's output, framed, for error messages. */
function outputReport(lines, scriptPath, pid) {
  const tail = lines.slice(-200);
  return `--- output of ${path.relative(ROOT, scriptPath)} (pid ${pid})` +
    `${lines.length > tail.length ? `, last ${tail.length} of ${lines.length} lines` : ''} ---\n` +
    `${tail.join('\n')}\n--- end of output ---`;
}

/** `promise`, or a rejection with message() and report() after `timeout` ms. */
function withTimeout(promise, timeout, message, report) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${message()}\n${report()}`)), timeout);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** How a line matcher reads in messages. */
function describeMatcher(matcher) {
  return typeof matcher === 'function' ? `predicate ${matcher.name || '<anonymous>'}` : String(matcher);
}

/** Whether `line` matches (RegExp, substring, or predicate(line, index, lines)): the RegExp's match or true; else null. */
function matchLine(matcher, line, index, lines) {
  if (typeof matcher === 'function') return matcher(line, index, lines) ? true : null;
  if (typeof matcher === 'string') return line.includes(matcher) ? true : null;
  return matcher.exec(line);
}

/** { line, index, match } of the lines from `from` on that match, the first `limit` of them. */
function matchingLines(matcher, lines, from, limit = Infinity) {
  const hits = [];
  for (let i = from; i < lines.length && hits.length < limit; i++) {
    const match = matchLine(matcher, lines[i], i, lines);
    if (match) hits.push({ line: lines[i], index: i, match });
  }
  return hits;
}

/** The proc methods that read the output and wait for lines in it. */
function outputMethods({ lines, waiters }, report) {
  function wait(check, what, timeout) {
    return waiters.until(check, {
      timeout,
      timedOut: () => new Error(`timed out after ${timeout} ms waiting for ${what}\n${report()}`),
      ended: () => new Error(`process ended without ${what}\n${report()}`),
    });
  }

  /**
   * Resolves with { line, index, match } for the first line at or after
   * `from` that matches (RegExp, substring, or predicate(line, index, lines)).
   * Rejects with the collected output after `timeout` ms, or as soon as the
   * process and its output pipes are closed without a match.
   */
  function waitFor(matcher, { timeout = DEFAULT_TIMEOUT, from = 0 } = {}) {
    const check = () => matchingLines(matcher, lines, from, 1)[0] ?? null;
    return wait(check, `a line matching ${describeMatcher(matcher)}`, timeout);
  }

  return {
    /** All output so far (stdout and stderr interleaved by arrival, line by line). */
    output(from = 0) {
      return lines.slice(from).join('\n');
    },
    waitFor,
    /** Like waitFor, but matches a RegExp against the joined output from line `from` on. */
    waitForText(regex, { timeout = DEFAULT_TIMEOUT, from = 0 } = {}) {
      const check = () => regex.exec(lines.slice(from).join('\n'));
      return wait(check, `output matching ${regex}`, timeout);
    },
    /** Wait for `count` matching lines (from `from`); resolves with the list of { line, index, match }. */
    async waitForCount(matcher, count, { timeout = DEFAULT_TIMEOUT, from = 0 } = {}) {
      const found = [];
      const deadline = Date.now() + timeout;
      let next = from;
      while (found.length < count) {
        const hit = await waitFor(matcher, { from: next, timeout: Math.max(1, deadline - Date.now()) });
        found.push(hit);
        next = hit.index + 1;
      }
      return found;
    },
    /** The output lines that are JSON objects (the fixtures' event lines), parsed. */
    jsonLines() {
      const parsed = [];
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          parsed.push(JSON.parse(line));
        } catch {
          // not an event line
        }
      }
      return parsed;
    },
    /** All lines (from `from`) matching, as { line, index, match }. */
    grep(matcher, { from = 0 } = {}) {
      return matchingLines(matcher, lines, from);
    },
  };
}

/** The proc methods that signal the primary or its process group. */
function signalMethods(child, detached) {
  const signal = (pid, name) => {
    try {
      process.kill(pid, name);
      return true;
    } catch {
      return false;
    }
  };
  return {
    /** Send a signal to the primary process. */
    kill(name = 'SIGTERM') {
      return signal(child.pid, name);
    },
    /** Send a signal to the whole process group (requires detached: true). */
    killGroup(name = 'SIGTERM') {
      if (!detached) throw new Error('killGroup needs start(..., { detached: true })');
      return signal(-child.pid, name);
    },
  };
}

/** The proc methods about the run's processes: its exit, and which of them are alive. */
function processMethods(child, tag, exited, report) {
  return {
    /** Like `exited`, but rejects with the output after `timeout` ms. */
    waitForExit({ timeout = DEFAULT_TIMEOUT } = {}) {
      return withTimeout(exited, timeout, () => `process did not exit within ${timeout} ms`, report);
    },
    /** Pids of the processes (primary and workers) that are still alive. */
    alive() {
      return listTagged(tag);
    },
    /** Pids of the live cluster workers (processes of this run with NODE_UNIQUE_ID set). */
    workers() {
      return listTagged(tag, { workersOnly: true }).filter((pid) => pid !== child.pid);
    },
    /** Resolves when no process (primary or worker) of this run is left. */
    waitForNoProcesses({ timeout = DEFAULT_TIMEOUT } = {}) {
      return waitForNoTagged(tag, { timeout });
    },
  };
}

/** SIGKILL to the primary (its group if detached), then to every process left with the tag; closes the pipes. */
async function killRun(child, tag, detached, exited) {
  if (child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(detached ? -child.pid : child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await withTimeout(exited, 10000, () => 'primary did not die after SIGKILL', () => '').catch(() => {});
  // The primary is dead, so no new worker can appear; kill what is left.
  await testProcesses.killAndWait(tag, { timeout: 10000 }).catch(() => {});
  child.stdout.destroy();
  child.stderr.destroy();
}

/** Kill everything still running (last resort, synchronous). */
function killAllSync() {
  for (const proc of live) {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // gone
    }
    killTagged(proc.tag);
    killTagged(proc.tag);
  }
  live.clear();
}
process.on('exit', killAllSync);

/** Clean up every process started through this harness. */
async function cleanupAll() {
  await Promise.all([...live].map((proc) => proc.cleanup()));
}

/** HTTP GET on 127.0.0.1 without keep-alive; resolves with { status, headers, body }. */
function get(port, { path: urlPath = '/', host = '127.0.0.1', timeout = DEFAULT_TIMEOUT } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`GET http://${host}:${port}${urlPath} timed out after ${timeout} ms`)));
    req.on('error', reject);
  });
}

/**
 * A TCP port that is free now and that nothing else in the suite will take before the test
 * uses it (for tests that need a fixed number: examples that do not print their port, a
 * replacement worker on the same port). A port from listen(0) is not: the kernel hands the
 * same range out to every listen(0) and outgoing connection, of concurrent subtests too.
 * So the port comes from below that range (net.ipv4.ip_local_port_range), in turn from a
 * random start, and is probed before use.
 */
const FIXED_PORTS = (() => {
  let ephemeralStart = 32768;
  try {
    ephemeralStart = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // not Linux, or no /proc: the usual default
  }
  const low = Math.max(1024, ephemeralStart - 20000);
  return { low, size: ephemeralStart - low, next: crypto.randomInt(Math.max(1, ephemeralStart - low)) };
})();

/** Listens on `port` (0: any) and closes again; resolves with the port, or null if taken. */
function probe(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.on('error', () => resolve(null));
    server.listen(port, () => {
      const got = server.address().port;
      server.close(() => resolve(got));
    });
  });
}

async function getFreePort() {
  for (let tries = 0; FIXED_PORTS.size >= 1000 && tries < 200; tries++) {
    const port = await probe(FIXED_PORTS.low + (FIXED_PORTS.next++ % FIXED_PORTS.size));
    if (port !== null) return port;
  }
  // A machine whose ephemeral range starts very low: take one from the kernel.
  const port = await probe(0);
  if (port === null) throw new Error('no free TCP port');
  return port;
}

module.exports = {
  ROOT,
  USE_BUILTIN,
  DEFAULT_TIMEOUT,
  TAG_VAR,
  selectedImpl,
  start,
  cleanupAll,
  listTagged,
  groupMembers,
  killTagged,
  waitForNoTagged,
  get,
  getFreePort,
};
