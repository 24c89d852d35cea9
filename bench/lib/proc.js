'use strict';
// Starting scenario scripts (and other helpers) as tagged child processes, talking to them
// through a line protocol, and killing everything they started.
//
// Every process gets RUST_CLUSTER_BENCH_TAG=<run tag>:<n> in its environment; cluster
// workers inherit it, so leftovers are found and killed through /proc/*/environ, with the
// tests' own helpers (__test__/helpers/processes.js, lines.js): they are not our children,
// so nothing else would reach them.
const { spawn } = require('node:child_process');
const path = require('node:path');
const { ROOT, implArgs, childEnv, uniqueTag, tagged, sleep } = require('../../__test__/helpers/processes.js');
const { readLines, waitList } = require('../../__test__/helpers/lines.js');

const TAG_VAR = 'RUST_CLUSTER_BENCH_TAG';
const RUN_TAG = uniqueTag();
const benchProcesses = tagged(TAG_VAR);
const MESSAGE_PREFIX = '@bench ';
let sequence = 0;
let taskset = null; // path of taskset, set by setTaskset()

function setTaskset(pathOrNull) {
  taskset = pathOrNull;
}

/** The environment of a child (see childEnv) tagged `<run tag>:<name>`. */
function taggedEnv(name, extra = {}) {
  return childEnv({ ...extra, [TAG_VAR]: `${RUN_TAG}:${name}` });
}

/** The final sweep: everything this run started. Synchronous, for 'exit' handlers. */
function killEverything() {
  benchProcesses.kill(`${RUN_TAG}:`, { prefix: true });
}

/**
 * Start a command. options: impl ('builtin' | 'rust' | undefined for plain commands),
 * node (true: run `node [preload] file args`), cpu (pin with taskset), env, timeout.
 * Lines on stdout that start with "@bench " are JSON messages; all other output is kept
 * for error reports.
 */
function start(file, { args = [], impl, node = true, cpu = null, env = {}, stdin = 'pipe' } = {}) {
  const name = String(++sequence);
  const tag = `${RUN_TAG}:${name}`;
  let command = file;
  let argv = [...args];
  if (node) {
    command = process.execPath;
    argv = [...implArgs(impl), file, ...args];
  }
  if (cpu != null && taskset) {
    argv = ['-c', String(cpu), command, ...argv];
    command = taskset;
  }
  const child = spawn(command, argv, { cwd: ROOT, env: taggedEnv(name, env), stdio: [stdin, 'pipe', 'pipe'] });
  const output = [];
  const messages = [];
  const waiters = waitList();
  let exitStatus = null;

  const proc = {
    child,
    pid: child.pid,
    tag,
    output,
    messages,
    /** Resolves with the first message of `type` (after index `from`); rejects on timeout or exit. */
    waitFor(type, { timeout = 60000, from = 0 } = {}) {
      return waiters.until(() => messages.slice(from).find((m) => m.type === type), {
        timeout,
        timedOut: () => failure(`timed out after ${timeout} ms waiting for "${type}"`),
        ended: () => failure(`exited before sending "${type}"`),
      });
    },
    /** Send one JSON command line on stdin. */
    send(obj) {
      child.stdin.write(`${JSON.stringify(obj)}\n`);
    },
    exited: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, output }))),
    /** Kill the process and everything it started; resolves once all are gone. */
    async cleanup() {
      await benchProcesses.killAndWait(tag);
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

  function onLine(line) {
    if (line.startsWith(MESSAGE_PREFIX)) {
      try {
        messages.push(JSON.parse(line.slice(MESSAGE_PREFIX.length)));
        waiters.recheck();
        return;
      } catch {
        // not ours after all: keep it as output
      }
    }
    output.push(line);
    if (output.length > 500) output.splice(0, output.length - 500);
  }

  for (const stream of [child.stdout, child.stderr]) readLines(stream, (lines) => lines.forEach(onLine));
  child.stdin?.on('error', () => {}); // EPIPE when the process is already gone
  child.on('error', (err) => output.push(`[bench] spawn error: ${err.message}`));
  child.on('close', (code, signal) => {
    exitStatus = { code, signal };
    waiters.end();
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

module.exports = { ROOT, implArgs, taggedEnv, setTaskset, start, runScenario, killEverything, sleep };
