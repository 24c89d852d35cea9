'use strict';
// The worker's spawn options, checked and normalised as Node's child_process.fork and
// spawn do (lib/child_process.js, lib/internal/child_process.js), with Node's errors in
// Node's order. The Rust core spawns what comes out.
const os = require('os');
const {
  ERR_INVALID_ARG_TYPE,
  ERR_INVALID_ARG_VALUE,
  ERR_CHILD_PROCESS_IPC_REQUIRED,
  ERR_IPC_ONE_PIPE,
  errnoException,
} = require('./errors');

function validatePath(value, name) {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) {
      throw ERR_INVALID_ARG_VALUE(name, value, 'must be a string, Uint8Array, or URL without null bytes');
    }
    return value;
  }
  if (value instanceof URL) return require('url').fileURLToPath(value);
  if (Buffer.isBuffer(value)) return value.toString();
  throw ERR_INVALID_ARG_TYPE(name, ['string', 'Buffer', 'URL'], value);
}

function stdioStringToArray(stdio) {
  switch (stdio) {
    case 'ignore':
    case 'overlapped':
    case 'pipe':
      return [stdio, stdio, stdio, 'ipc'];
    case 'inherit':
      return [0, 1, 2, 'ipc'];
    default:
      throw ERR_INVALID_ARG_VALUE('stdio', stdio);
  }
}

/** One stdio slot as the binding takes it: inherit | ignore | pipe, or a descriptor number. */
function normalizeStdioSlot(value, index) {
  if (value == null || value === 'pipe' || value === 'overlapped') return 'pipe';
  if (value === 'ignore') return 'ignore';
  if (value === 'inherit') return 'inherit';
  if (typeof value === 'number') {
    if (value < 0) return 'pipe';
    return value === index ? 'inherit' : value;
  }
  const fd = typeof value.fd === 'number' ? value.fd : value._handle?.fd ?? value.handle?.fd;
  if (typeof fd === 'number' && fd >= 0) return fd === index ? 'inherit' : fd;
  throw ERR_INVALID_ARG_VALUE('stdio', value);
}

function checkNullBytes(list, name) {
  list.forEach((arg, i) => {
    if (typeof arg === 'string' && arg.includes('\u0000')) {
      throw ERR_INVALID_ARG_VALUE(`${name}[${i}]`, arg, 'must be a string without null bytes');
    }
  });
}

function isInt32(value) {
  return value === (value | 0);
}

function normalizeStdio(settings) {
  let stdio = settings.stdio;
  if (typeof stdio === 'string') stdio = stdioStringToArray(stdio);
  else if (!Array.isArray(stdio)) stdio = stdioStringToArray(settings.silent ? 'pipe' : 'inherit');
  else if (!stdio.includes('ipc')) throw ERR_CHILD_PROCESS_IPC_REQUIRED('options.stdio');
  let ipcFd;
  stdio.forEach((value, i) => {
    if (value !== 'ipc') return;
    if (ipcFd !== undefined) throw ERR_IPC_ONE_PIPE();
    ipcFd = i;
  });
  const slots = [];
  for (let i = 0; i < Math.max(3, stdio.length); i++) {
    if (stdio[i] === 'ipc') slots.push('ignore');
    else if (i >= 3 && stdio[i] == null) slots.push('ignore');
    else slots.push(normalizeStdioSlot(stdio[i], i));
  }
  return { stdio: slots, ipcFd };
}

// ---- the permission model's flags (Node 22 and later) ----
// A primary under the permission model gives a child its flags, in NODE_OPTIONS, unless
// the child's arguments or NODE_OPTIONS already ask for it: copyPermissionModelFlagsToEnv
// in lib/child_process.js of Node 22 and 24 (Node 20 copies nothing). Each line's rules
// and flags (internal/process/permission's availableFlags()) are its own.
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const FLAGS_22 = ['--allow-fs-read', '--allow-fs-write', '--allow-addons', '--allow-child-process',
  '--allow-wasi', '--allow-worker', '--permission'];
const FLAGS_24 = ['--allow-fs-read', '--allow-fs-write', '--allow-addons', '--allow-child-process',
  '--allow-inspector', '--allow-wasi', '--allow-worker', '--allow-openssl-store', '--permission'];
// This process's own flags, as it started (Node reads its parsed options).
const STARTUP_FLAGS = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];

/** Node's permission.isEnabled(): --permission (on 22 also as --experimental-permission). */
function permissionEnabled() {
  if (process.permission === undefined) return false;
  // Node 24's --permission-audit defines process.permission too, without enabling it.
  if (NODE_MAJOR >= 24) return STARTUP_FLAGS.includes('--permission');
  return true;
}

// Under the permission model without --allow-child-process, Node's spawn refuses before
// it starts anything (after the option checks, before libuv's). The error is Node's own,
// taken from that same refusal: its message and `resource` differ between the lines.
function assertChildProcessAllowed() {
  if (!permissionEnabled() || process.permission.has('child')) return;
  const child = require('child_process').spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  // Not reached while Node refuses; should it ever allow it, the probe goes at once.
  child.kill('SIGKILL');
}

// Node 24 matches whole tokens (so --title=--permission is no such flag); Node 22 any
// substring.
function hasPermissionFlagInEnv(nodeOptions) {
  if (!nodeOptions) return false;
  return nodeOptions.split(/\s+/).some((token) =>
    token === '--permission' || token.startsWith('--permission=') ||
    token === '--permission-audit' || token.startsWith('--permission-audit='));
}

function asksForPermission(env, key, args) {
  if (NODE_MAJOR >= 24) {
    return args.includes('--permission') || args.includes('--permission-audit') || hasPermissionFlagInEnv(env[key]);
  }
  return args.includes('--permission') || (env[key] && env[key].indexOf('--permission') !== -1);
}

function copyPermissionModelFlagsToEnv(env, key, args) {
  if (asksForPermission(env, key, args)) return;
  const flagsToCopy = NODE_MAJOR >= 24 ? FLAGS_24 : FLAGS_22;
  for (const arg of process.execArgv) {
    for (const flag of flagsToCopy) {
      if (arg.startsWith(flag)) env[key] = env[key] ? `${env[key]} ${arg}` : arg;
    }
  }
}

/**
 * The spawn of one worker, as fork(settings.exec, settings.args, { ...settings, execArgv,
 * env }) would make it: { args (execArgv, the module, its arguments), envPairs, cwd, uid,
 * gid, stdio, ipcFd, serialization }. Throws what Node's fork and spawn throw. `env` is
 * not changed.
 */
function normalizeFork(settings, execArgv, env) {
  const modulePath = validatePath(settings.exec, 'modulePath');
  let args = settings.args;
  if (args == null) args = [];
  else if (!Array.isArray(args)) throw ERR_INVALID_ARG_TYPE('args', 'Array', args);
  const cwd = settings.cwd == null ? undefined : validatePath(settings.cwd, 'options.cwd');
  if (settings.uid != null && !isInt32(settings.uid)) throw ERR_INVALID_ARG_TYPE('options.uid', 'int32', settings.uid);
  if (settings.gid != null && !isInt32(settings.gid)) throw ERR_INVALID_ARG_TYPE('options.gid', 'int32', settings.gid);
  if (settings.windowsHide != null && typeof settings.windowsHide !== 'boolean') {
    throw ERR_INVALID_ARG_TYPE('options.windowsHide', 'boolean', settings.windowsHide);
  }
  const serialization = settings.serialization ?? 'json';
  if (serialization !== 'json' && serialization !== 'advanced') {
    throw ERR_INVALID_ARG_VALUE('options.serialization', serialization, "must be one of: undefined, 'json', 'advanced'");
  }
  // As child_process.fork, then spawn, check for NUL bytes: execArgv by itself, then the
  // whole argument list.
  checkNullBytes(execArgv, 'options.execArgv');
  checkNullBytes([...execArgv, modulePath, ...args], 'args');
  const { stdio, ipcFd } = normalizeStdio(settings);
  if (NODE_MAJOR >= 22 && permissionEnabled()) {
    env = { ...env };
    copyPermissionModelFlagsToEnv(env, 'NODE_OPTIONS', [process.execPath, ...execArgv, modulePath, ...args]);
  }
  const envPairs = [];
  for (const key of Object.keys(env)) {
    const value = env[key];
    if (value !== undefined) envPairs.push(`${key}=${value}`);
  }
  envPairs.push(`NODE_CHANNEL_FD=${ipcFd}`, `NODE_CHANNEL_SERIALIZATION_MODE=${serialization}`);
  assertChildProcessAllowed();
  // libuv refuses negative ids when it spawns: Node throws `spawn EINVAL`.
  if ((settings.uid != null && settings.uid < 0) || (settings.gid != null && settings.gid < 0)) {
    throw errnoException(-os.constants.errno.EINVAL, 'spawn');
  }
  return {
    args: [...execArgv, modulePath, ...args.map(String)],
    envPairs,
    cwd,
    uid: settings.uid ?? undefined,
    gid: settings.gid ?? undefined,
    stdio,
    ipcFd,
    serialization,
  };
}

module.exports = { normalizeFork };
