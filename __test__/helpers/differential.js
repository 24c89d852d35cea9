'use strict';
// The machinery of ../differential.test.js: run a scenario with one implementation,
// group and normalize its event log, and describe differences between two logs.
// Also a command line tool to check a scenario's determinism under load:
//   node __test__/helpers/differential.js <scenario> <builtin|rust> [runs=10] [parallel=3]
// runs it repeatedly and prints how many distinct normalized logs came out (and their diff).
const path = require('node:path');
const { start } = require('./run.js');

const RUN_TIMEOUT = 25_000;

/**
 * Runs one scenario with one implementation (with `execPath` as the primary's and the
 * workers' node; default: this one); resolves with its exit status and events.
 */
async function runScenario(name, impl, { execPath } = {}) {
  const proc = start(path.join('__test__', 'scenarios', `${name}.js`), { impl, execPath, env: { NODE_CLUSTER_SCHED_POLICY: undefined } });
  try {
    const status = await proc.waitForExit({ timeout: RUN_TIMEOUT });
    // Wait for the workers' copies of stdout to close too (every worker gone).
    let leftover = [];
    const closed = await Promise.race([
      proc.closed.then(() => true),
      new Promise((resolve) => setTimeout(resolve, 5000, false)),
    ]);
    if (!closed) leftover = proc.alive();
    const events = [];
    for (const line of proc.lines) {
      if (!line.startsWith('{"src":')) continue;
      try {
        events.push(JSON.parse(line));
      } catch (err) {
        throw new Error(`${impl}: unparsable event line (${err.message}): ${line.slice(0, 300)}`, { cause: err });
      }
    }
    return { impl, status, leftover: leftover.length, events, output: proc.output() };
  } finally {
    await proc.cleanup();
  }
}

/**
 * Events grouped by process (src), by worker (the primary's events about worker N) and by
 * lane (events of one worker whose order relative to its other events is not defined).
 */
function group(events) {
  const groups = {};
  for (const event of events) {
    const { src, worker, lane, ...rest } = event;
    let key = src;
    if (typeof worker === 'number') key += `/w${worker}`;
    if (lane !== undefined) key += `/${lane}`;
    (groups[key] ??= []).push(rest);
  }
  // A lane named "~..." holds events whose order is not defined: compared as a sorted list.
  for (const key of Object.keys(groups)) {
    if (key.includes('/~')) groups[key].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  }
  return Object.fromEntries(Object.keys(groups).sort().map((key) => [key, groups[key]]));
}

const PLACEHOLDER_KEYS = {
  port: 'port',
  pid: 'pid',
};

/**
 * Replaces run-specific values by placeholders that keep their equalities: the n-th
 * distinct port seen (walking the groups in order) becomes "<port#n>", and so on.
 */
function normalize(grouped) {
  const seen = {};
  const placeholder = (kind, value) => {
    const map = (seen[kind] ??= new Map());
    if (!map.has(value)) map.set(value, `<${kind}#${map.size + 1}>`);
    return map.get(value);
  };
  const walk = (value, key) => {
    if (Array.isArray(value)) return value.map((item) => walk(item, key));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    }
    const kind = PLACEHOLDER_KEYS[key];
    if (kind && typeof value === 'number' && value > 0) return placeholder(kind, value);
    return value;
  };
  return walk(grouped);
}

/** Paths at which two JSON values differ, as "path: a ≠ b" (at most `limit`). */
function fieldDiffs(a, b, pathName = '', out = [], limit = 6) {
  if (out.length >= limit) return out;
  const bothObjects = a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b);
  if (bothObjects && !('$' in a && a.$ !== b.$)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      fieldDiffs(a[key], b[key], pathName ? `${pathName}.${key}` : key, out, limit);
    }
    return out;
  }
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  if (x !== y) out.push(`${pathName || '(event)'}: ${x ?? '(missing)'} ≠ ${y ?? '(missing)'}`);
  return out;
}

/**
 * Human-readable differences (at most `limit`) between two normalized logs: for each
 * differing event, the event of the first log and the fields that differ in the second.
 */
function differences(expected, actual, { limit = 12, names = ['expected', 'actual'] } = {}) {
  const out = [];
  const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  for (const key of keys) {
    const a = expected[key] ?? [];
    const b = actual[key] ?? [];
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n && out.length < limit; i++) {
      const x = JSON.stringify(a[i]);
      const y = JSON.stringify(b[i]);
      if (x === y) continue;
      const fields = a[i] && b[i] && a[i].ev === b[i].ev ? fieldDiffs(a[i], b[i]) : null;
      const shorten = (text) => (text && text.length > 600 ? `${text.slice(0, 600)}...` : text);
      out.push(`[${key}] event #${i}\n    ${names[0]}: ${shorten(x) ?? '(none)'}\n` +
        (fields ? fields.map((f) => `      ${f} (${names[0]} ≠ ${names[1]})`).join('\n')
          : `    ${names[1]}: ${shorten(y) ?? '(none)'}`));
    }
    if (out.length >= limit) break;
  }
  return out;
}

module.exports = { runScenario, group, normalize, differences };

if (require.main === module) {
  const [name, impl = 'rust', runs = '10', parallel = '3'] = process.argv.slice(2);
  (async () => {
    const logs = [];
    let index = 0;
    const worker = async () => {
      while (index < Number(runs)) {
        index++;
        const run = await runScenario(name, impl);
        logs.push({ status: run.status, log: normalize(group(run.events)), output: run.output });
      }
    };
    await Promise.all([...Array(Number(parallel))].map(worker));
    const distinct = new Map();
    for (const entry of logs) {
      const key = JSON.stringify([entry.status, entry.log]);
      if (!distinct.has(key)) distinct.set(key, { entry, count: 0 });
      distinct.get(key).count++;
    }
    console.log(`${name} (${impl}): ${logs.length} runs, ${distinct.size} distinct normalized logs: ${[...distinct.values()].map((d) => d.count).join(', ')}`);
    const [first, ...rest] = [...distinct.values()];
    for (const other of rest) {
      console.log(differences(first.entry.log, other.entry.log, { names: ['first', 'other'] }).join('\n'));
      if (JSON.stringify(first.entry.status) !== JSON.stringify(other.entry.status)) console.log(first.entry.status, other.entry.status);
    }
  })();
}
