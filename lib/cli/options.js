'use strict';
// The command line, parsed into what the runner needs: which command, the script and its
// arguments, and the cluster settings the flags map onto (one flag, one setting; a
// --config file.json holds the same keys). Any mistake is a UsageError: one line, and the
// command exits 2.
const fs = require('fs');
const os = require('os');
const policies = require('../policies');

class UsageError extends Error {}

// flag -> [config key, parser]. A parser takes the flag's text (or the config file's
// value) and returns the setting, or throws UsageError.
const bad = (flag, value, why) => new UsageError(`${flag}: ${why} (got ${JSON.stringify(value)})`);

function integer(flag, { min = 0 } = {}) {
  return (value) => {
    const n = typeof value === 'number' ? value : Number(String(value).trim());
    if (String(value).trim() === '' || !Number.isInteger(n) || n < min) throw bad(flag, value, `expected an integer >= ${min}`);
    return n;
  };
}

function workers(value) {
  if (value === 'auto') return 'auto';
  return integer('--workers', { min: 1 })(value);
}

function oneOf(flag, names) {
  return (value) => {
    if (!names.includes(value)) throw bad(flag, value, `expected one of ${names.join(', ')}`);
    return value;
  };
}

function signal(flag) {
  return (value) => {
    const name = String(value).toUpperCase();
    if (!/^SIG[A-Z0-9]+$/.test(name) || os.constants.signals[name] === undefined) throw bad(flag, value, 'expected a signal name such as SIGHUP');
    return name;
  };
}

const UNITS = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };

/** 512M, 1.5G, 1048576: bytes. */
function bytes(value) {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(String(value).trim());
  const unit = m && UNITS[m[2].toLowerCase()];
  if (!m || unit === undefined || Number(m[1]) <= 0) throw bad('--max-memory', value, 'expected a size such as 512M or 1G');
  return Math.round(Number(m[1]) * unit);
}

/** [host:]port, host an IP address (IPv6 in brackets). */
function metrics(value) {
  if (typeof value === 'object' && value !== null) return value;
  const text = String(value);
  const m = /^(?:(\[[0-9a-f:.]+\]|[0-9.]+):)?(\d+)$/i.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw bad('--metrics', value, 'expected [host:]port, such as 9100 or 0.0.0.0:9100');
  const host = m[1] ? m[1].replace(/^\[|\]$/g, '') : '127.0.0.1';
  if (require('net').isIP(host) === 0) throw bad('--metrics', value, 'the host must be an IP address');
  return { host, port };
}

const flag = (key, parse, help, { boolean = false, short } = {}) => ({ key, parse, help, boolean, short });

const FLAGS = {
  '--workers': flag('workers', workers, 'N|auto  workers to run (auto: one per available CPU; default auto)', { short: '-w' }),
  '--policy': flag('policy', oneOf('--policy', Object.keys(policies.BY_NAME)), 'rr|none|reuseport|sticky  how connections reach workers (default rr)'),
  '--restart': flag('restart', () => true, 'restart workers that exit unexpectedly (the default)', { boolean: true }),
  '--no-restart': flag('restart', () => false, 'do not restart them', { boolean: true }),
  '--restart-delay': flag('restartDelay', integer('--restart-delay'), 'ms  first restart delay, doubled per consecutive crash (default 100)'),
  '--restart-max-delay': flag('restartMaxDelay', integer('--restart-max-delay'), 'ms  longest restart delay (default 10000)'),
  '--max-restarts': flag('maxRestarts', integer('--max-restarts'), 'N  give up after N restarts within --restart-window (default 10)'),
  '--restart-window': flag('restartWindow', integer('--restart-window', { min: 1 }), 'ms  (default 60000)'),
  '--shutdown-timeout': flag('shutdownTimeout', integer('--shutdown-timeout'), 'ms  graceful stop, then SIGKILL (default 10000)'),
  '--reload-signal': flag('reloadSignal', signal('--reload-signal'), 'SIG  rolling reload on this signal (default SIGHUP)'),
  '--heartbeat': flag('heartbeat', integer('--heartbeat', { min: 1 }), 'ms  workers must answer a heartbeat this often'),
  '--max-memory': flag('maxMemory', bytes, 'SIZE  replace a worker above this RSS (512M, 1G)'),
  '--metrics': flag('metrics', metrics, '[host:]port  serve /metrics, /healthz, /readyz (host default 127.0.0.1)'),
  '--log-format': flag('logFormat', oneOf('--log-format', ['prefix', 'json']), 'prefix|json  worker output lines (default prefix)'),
  '--control': flag('control', (v) => { if (!v) throw bad('--control', v, 'expected a path'); return String(v); }, 'PATH  control socket (mode 0600) for status, reload, scale, stop'),
  '--config': flag('config', String, 'FILE  a JSON object with the same keys (workers, policy, metrics, ...)'),
  '--json': flag('json', () => true, 'status: print JSON', { boolean: true }),
  '--help': flag('help', () => true, 'this help', { boolean: true, short: '-h' }),
  '--version': flag('version', () => true, 'the version', { boolean: true, short: '-v' }),
};
const SHORT = Object.fromEntries(Object.entries(FLAGS).filter(([, f]) => f.short).map(([name, f]) => [f.short, name]));
const BY_KEY = new Map();
for (const [name, f] of Object.entries(FLAGS)) if (!name.startsWith('--no-') && !BY_KEY.has(f.key)) BY_KEY.set(f.key, [name, f]);
const COMMANDS = ['status', 'reload', 'scale', 'stop'];
const CONFIG_ONLY = ['script', 'args'];

function readConfig(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--config: cannot read ${file}: ${err.code ?? err.message}`);
  }
  let config;
  try {
    config = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--config: ${file} is not JSON: ${err.message}`);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new UsageError(`--config: ${file} must hold a JSON object`);
  const out = {};
  for (const [key, value] of Object.entries(config)) {
    if (CONFIG_ONLY.includes(key)) {
      if (key === 'script' && typeof value !== 'string') throw new UsageError('--config: "script" must be a string');
      if (key === 'args' && !(Array.isArray(value) && value.every((a) => typeof a === 'string'))) throw new UsageError('--config: "args" must be an array of strings');
      out[key] = value;
      continue;
    }
    const entry = BY_KEY.get(key);
    if (!entry || ['config', 'help', 'version', 'json'].includes(key)) throw new UsageError(`--config: unknown key "${key}"`);
    const [name, f] = entry;
    if (f.boolean) {
      if (typeof value !== 'boolean') throw new UsageError(`--config: "${key}" must be true or false`);
      out[key] = value;
    } else {
      out[key] = f.parse(value, name);
    }
  }
  return out;
}

/**
 * Parses argv (without node and the bin). Returns { command, options, script, args, n }.
 * Options stop at the script (or a command's operands) and at `--`.
 */
function parse(argv) {
  const options = {};
  const positional = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') { i++; break; }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      // A script ends the options: the rest is its own. A command takes its operand.
      if (!COMMANDS.includes(positional[0])) { i++; break; }
      continue;
    }
    let name = arg;
    let inline;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq !== -1) {
      name = arg.slice(0, eq);
      inline = arg.slice(eq + 1);
    }
    name = SHORT[name] ?? name;
    const f = FLAGS[name];
    if (!f) throw new UsageError(`unknown option ${arg} (see rust-cluster --help)`);
    if (f.boolean) {
      if (inline !== undefined) throw new UsageError(`${name} takes no value`);
      options[f.key] = f.parse();
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${name} needs a value`);
    options[f.key] = f.parse(value, name);
  }
  const rest = argv.slice(i);
  if (options.help || options.version) return { command: options.help ? 'help' : 'version', options };
  const config = options.config !== undefined ? readConfig(options.config) : {};
  const merged = { ...config, ...options };
  delete merged.config;
  const [first, ...more] = positional;
  if (COMMANDS.includes(first)) {
    if (merged.control === undefined) throw new UsageError(`${first} needs --control <path>`);
    let n;
    if (first === 'scale') {
      if (more.length !== 1) throw new UsageError('scale needs the number of workers: rust-cluster scale N --control <path>');
      n = integer('scale', { min: 0 })(more[0]);
    } else if (more.length > 0 || rest.length > 0) {
      throw new UsageError(`${first} takes no operand (got ${JSON.stringify([...more, ...rest][0])})`);
    }
    return { command: first, options: merged, n };
  }
  const script = first ?? rest.shift() ?? merged.script;
  if (script === undefined) throw new UsageError('no script to run (rust-cluster [options] <script> [args...]; see --help)');
  const args = first === undefined && merged.script !== undefined && rest.length === 0 ? merged.args ?? [] : rest;
  if (merged.json) throw new UsageError('--json is for the status command');
  if (!fs.existsSync(script)) throw new UsageError(`cannot find the script ${script}`);
  return { command: 'run', options: merged, script, args };
}

function help() {
  const lines = [
    'Usage: rust-cluster [options] <script> [script args...]',
    '       rust-cluster status [--json] --control <path>',
    '       rust-cluster reload | stop --control <path>',
    '       rust-cluster scale <N> --control <path>',
    '',
    'Runs an unmodified Node.js script as a cluster of workers: restarts the ones that',
    'crash, stops gracefully on SIGTERM and SIGINT, reloads them one by one on SIGHUP.',
    '',
    'Options:',
  ];
  for (const [name, f] of Object.entries(FLAGS)) {
    const label = f.short ? `${f.short}, ${name}` : `    ${name}`;
    const [arg, ...text] = f.help.includes('  ') ? f.help.split('  ') : ['', f.help];
    lines.push(`  ${`${label} ${arg}`.padEnd(36)} ${text.join('  ')}`);
  }
  lines.push(
    '',
    'Examples:',
    '  rust-cluster -w 4 server.js                      four workers of server.js',
    '  rust-cluster -w auto --metrics 9100 server.js    Prometheus metrics on 127.0.0.1:9100',
    '  rust-cluster --control /run/app.sock app.js --port 8080',
    '  rust-cluster status --control /run/app.sock',
    '  rust-cluster scale 8 --control /run/app.sock',
    '  npx --no -- rust-cluster -w 2 server.js          with npx: flags after --',
    '',
    'Exit codes: 0 after a graceful stop, 1 when it gave up, 2 for a usage error.',
  );
  return `${lines.join('\n')}\n`;
}

module.exports = { parse, help, UsageError, bytes };
