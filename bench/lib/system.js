'use strict';
// Facts about the machine and readings from /proc.
const fs = require('node:fs');
const os = require('node:os');
const { execFileSync, spawnSync } = require('node:child_process');
const { statFields } = require('../../__test__/helpers/processes.js');

function which(cmd) {
  const res = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim() : null;
}

function clockTicks() {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}
const CLK_TCK = clockTicks();

/** User + system CPU seconds of a process (all its threads), or null if it is gone. */
function cpuSeconds(pid) {
  const fields = statFields(pid);
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return fields && (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * Resident set size of a process in MiB, or null if it is gone. `part` picks a share of it
 * from /proc/<pid>/status: 'VmRSS' (all of it) or 'RssAnon' (private memory: the heaps;
 * the rest is mostly code mapped from files, shared with other processes and evictable).
 */
function rssMiB(pid, part = 'VmRSS') {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
    const match = new RegExp(`^${part}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

function gitCommit(cwd) {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib', 'core', 'src'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${rev} (+ uncommitted changes in lib/core/src)` : rev;
  } catch {
    return 'unknown';
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    node: process.version,
    cores: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    kernel: `${os.type()} ${os.release()}`,
  };
}

module.exports = { which, cpuSeconds, rssMiB, gitCommit, machine, CLK_TCK };
