'use strict';
// The processes the tests (./run.js, ./command.js) and the benchmarks (../../bench/lib/proc.js)
// start: how `node` is started on either implementation, the environment a child gets,
// and the tag in that environment through which every process of a run is found and
// killed. Cluster workers inherit the tag with the environment; they are not our
// children, so /proc/*/environ is the only way to reach them once their primary is gone.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');

const ROOT = path.resolve(__dirname, '..', '..');
/** Preloaded with `-r` to make require('rust-cluster') Node's built-in cluster (see the file). */
const USE_BUILTIN = path.join(__dirname, 'use-builtin.js');

/** The node options that select an implementation: 'builtin' preloads USE_BUILTIN, anything else is rust-cluster. */
function implArgs(impl) {
  return impl === 'builtin' ? ['-r', USE_BUILTIN] : [];
}

/** Variables of the cluster (or test runner) this process runs in, never passed on to a child. */
const INHERITED_CONTEXT = ['NODE_UNIQUE_ID', 'NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE', 'NODE_TEST_CONTEXT'];

/**
 * The environment of a child: this process's without INHERITED_CONTEXT, with `extra` on
 * top (a value of undefined removes the variable).
 */
function childEnv(extra = {}) {
  const env = { ...process.env };
  for (const key of INHERITED_CONTEXT) delete env[key];
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = String(value);
  }
  return env;
}

/** A tag no other run uses: `<pid>-[label-]<random hex>`. */
function uniqueTag(label) {
  return `${process.pid}-${label ? `${label}-` : ''}${crypto.randomBytes(8).toString('hex')}`;
}

/** Whether a /proc/<pid>/environ (NUL-separated) holds an entry that starts with `start`. */
const hasEntry = (environ, start) => environ.startsWith(start) || environ.includes(`\0${start}`);

/**
 * The processes tagged with `variable=<tag>` in their environment:
 *   list(tag)         their pids (live ones: zombies are already dead)
 *   kill(tag)         SIGKILL (or `signal`) to each; returns the pids it signalled
 *   killAndWait(tag)  kill until none is left; rejects if some survive `timeout` ms
 *   waitForNone(tag)  resolves once none is left; rejects after `timeout` ms
 * Options of each: `prefix: true` matches every tag that starts with `tag`;
 * `workersOnly: true` (list) only the cluster workers among them (NODE_UNIQUE_ID set).
 */
function tagged(variable) {
  function list(tag, { prefix = false, workersOnly = false } = {}) {
    const needle = `${variable}=${tag}${prefix ? '' : '\0'}`;
    const pids = [];
    let entries;
    try {
      entries = fs.readdirSync('/proc');
    } catch {
      return pids;
    }
    for (const name of entries) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      if (pid === process.pid) continue;
      try {
        const environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
        if (!hasEntry(environ, needle)) continue;
        if (workersOnly && !hasEntry(environ, 'NODE_UNIQUE_ID=')) continue;
        // Zombies are already dead (and have an empty environ anyway).
        const state = processState(pid);
        if (state === null || state === 'Z' || state === 'X') continue;
        pids.push(pid);
      } catch {
        // gone meanwhile, or not ours to read
      }
    }
    return pids;
  }

  function kill(tag, { prefix = false, signal = 'SIGKILL' } = {}) {
    const pids = list(tag, { prefix });
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
    return pids;
  }

  async function killAndWait(tag, { prefix = false, timeout = 10000 } = {}) {
    const deadline = Date.now() + timeout;
    while (kill(tag, { prefix }).length > 0) {
      if (Date.now() > deadline) throw new Error(`processes tagged ${variable}=${tag} survive SIGKILL`);
      await sleep(20);
    }
  }

  async function waitForNone(tag, { prefix = false, timeout = 30000, exclude = [] } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const left = list(tag, { prefix }).filter((pid) => !exclude.includes(pid));
      if (left.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`processes still alive after ${timeout} ms: ${left.join(', ')}`);
      }
      // Polling: these processes are not our children, there is nothing to wait on.
      await sleep(50);
    }
  }

  return { variable, list, kill, killAndWait, waitForNone };
}

/**
 * The fields of /proc/<pid>/stat after the command name (fields[0] is field 3, the state;
 * utime and stime are fields[11] and fields[12]), or null once the process is gone.
 * `pid` may also be `<pid>/task/<tid>`, a thread.
 */
function statFields(pid) {
  let stat;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // pid (comm) state ppid ...: comm may hold spaces and parentheses.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** R, S, T, Z... of a process (or `<pid>/task/<tid>`), or null once it is gone. */
function processState(pid) {
  return statFields(pid)?.[0] ?? null;
}

/**
 * Resolves once predicate() is true, polled every `every` ms; rejects after `timeout` ms.
 * For what there is nothing to wait on: processes that are not our children, files.
 */
async function pollUntil(predicate, what, { timeout = 15000, every = 25 } = {}) {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(every);
  }
}

/**
 * Every process of process group `pgid`, zombies included (a zombie still counts for
 * whoever waits on the group to empty): [{ pid, state, comm }].
 */
function groupMembers(pgid) {
  const members = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
    const close = stat.lastIndexOf(')');
    const [state, , pgrp] = stat.slice(close + 2).split(' ');
    if (Number(pgrp) === pgid) members.push({ pid: Number(name), state, comm: stat.slice(stat.indexOf('(') + 1, close) });
  }
  return members;
}

module.exports = {
  ROOT, USE_BUILTIN, implArgs, childEnv, uniqueTag, tagged, statFields, processState, groupMembers, pollUntil, sleep,
};
