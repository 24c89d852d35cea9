#!/usr/bin/env node
'use strict';
// npm run bench [-- suite ...]     e.g.  node bench/run.js http ipc
//
// Runs each benchmark case on Node's built-in cluster and on rust-cluster, interleaved
// (built-in, rust-cluster, built-in, rust-cluster, ...), prints medians with min-max and
// the ratio rust-cluster / built-in, and writes bench/results/latest.json.
// The scenario scripts are the same for both; the built-in runs only add
// `-r __test__/helpers/use-builtin.js`.
//
// Environment:
//   BENCH_ROUNDS=3        rounds per implementation and case
//   BENCH_DURATION=5      seconds of HTTP load per measurement (after BENCH_WARMUP=1)
//   BENCH_CONNECTIONS=50  HTTP connections
//   BENCH_POLICIES=rr,none  subset of the http scheduling policies
//   BENCH_PIN=0           do not pin with taskset
//   BENCH_DEADLINE=540    seconds after which the remaining measurements are skipped
const path = require('node:path');
const { killEverything, setTaskset, ROOT } = require('./lib/proc');
const { summarize, fmt } = require('./lib/stats');
const { machine, which, gitCommit, CLK_TCK } = require('./lib/system');
const { describeGenerator } = require('./lib/load');
const { format, writeJson, IMPL_LABEL, ratio, floorRatios } = require('./lib/report');

const SUITES = ['http', 'ipc', 'spawn', 'memory', 'limits', 'watch', 'handoff'].map((name) => require(`./suites/${name}`));
const RESULTS = path.join(__dirname, 'results', 'latest.json');

function number(name, fallback) {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function configure() {
  const info = machine();
  const taskset = which('taskset');
  const pinned = process.env.BENCH_PIN !== '0' && taskset && info.cores >= 2;
  setTaskset(pinned ? taskset : null);
  return {
    info,
    rounds: Math.round(number('BENCH_ROUNDS', 3)),
    duration: number('BENCH_DURATION', 5),
    warmup: number('BENCH_WARMUP', 1),
    memoryLoadSeconds: number('BENCH_MEMORY_DURATION', 3),
    connections: Math.round(number('BENCH_CONNECTIONS', 50)),
    deadline: Date.now() + number('BENCH_DEADLINE', 540) * 1000,
    pin: pinned ? { cluster: 0, load: 1 } : null,
  };
}

const loadavg = () => require('node:os').loadavg().map((v) => v.toFixed(2)).join(' ');

function header(config, suites) {
  const { info } = config;
  return [
    `rust-cluster benchmark, ${new Date().toISOString()}, commit ${gitCommit(ROOT)}`,
    `Node ${info.node}, ${info.cores} cores, ${info.cpuModel}, ${info.kernel}, load average ${loadavg()} at start`,
    `pinning: ${config.pin ? 'taskset: cluster (primary + workers) on CPU 0, load generator on CPU 1 (http, memory, handoff); ipc, spawn and limits unpinned' : 'none'}`,
    `load: ${describeGenerator(config.connections)}, ${config.warmup}s warm-up + ${config.duration}s per http measurement, ${config.memoryLoadSeconds}s for memory`,
    `rounds: ${config.rounds} per implementation, interleaved built-in/rust-cluster (/C floor for handoff); suites: ${suites.map((s) => s.name).join(' ')}`,
  ].join('\n');
}

async function runCase(testCase, config, errors) {
  const samples = new Map(testCase.impls.map((impl) => [impl, []]));
  for (let round = 1; round <= config.rounds; round++) {
    for (const impl of testCase.impls) {
      const label = impl ? IMPL_LABEL[impl] : 'value';
      if (Date.now() > config.deadline) {
        errors.push({ case: testCase.name, impl, round, error: 'skipped: BENCH_DEADLINE reached' });
        continue;
      }
      let sample = null;
      try {
        sample = await testCase.run(impl);
      } catch (err) {
        errors.push({ case: testCase.name, impl, round, error: err.message });
      }
      samples.get(impl).push(sample);
      const shown = sample ? testCase.metrics.map((m) => `${m.key}=${fmt(sample[m.key])}`).join(' ') : 'ERROR';
      process.stderr.write(`  [${round}/${config.rounds}] ${testCase.name} | ${label}: ${shown}\n`);
    }
  }
  return testCase.metrics.map((metric) => {
    const of = (impl) => summarize(samples.get(impl).map((s) => s?.[metric.key]));
    const row = { case: testCase.name, metric, impls: testCase.impls };
    if (testCase.impls.length === 1) row.value = of(testCase.impls[0]);
    else Object.assign(row, { builtin: of('builtin'), rust: of('rust') });
    // Cases measured beside a floor (handoff) carry it, or why there is none.
    if (testCase.impls.includes('floor')) row.floor = of('floor');
    if ('floorUnavailable' in testCase) row.floorUnavailable = testCase.floorUnavailable ?? null;
    row.raw = Object.fromEntries([...samples].map(([impl, list]) => [impl ?? 'value', list]));
    return row;
  });
}

/** Derived lines: IPC figures as a fraction of the socketpair floor. */
function notes(rows) {
  const find = (name, key) => rows.find((r) => r.case.startsWith(name) && r.metric.key === key);
  const floor = find('IPC floor', 'perSecond')?.value?.median;
  const ping = find('ipc ping-pong', 'perSecond');
  if (!floor || !ping) return [];
  const pct = (s) => (s ? `${((100 * s.median) / floor).toFixed(1)}%` : 'ERR');
  return [`ipc ping-pong as a share of the C socketpair floor (${fmt(floor)}/s): built-in ${pct(ping.builtin)}, rust-cluster ${pct(ping.rust)}`];
}

async function main() {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !SUITES.some((s) => s.name === w));
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${SUITES.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  const suites = wanted.length ? SUITES.filter((s) => wanted.includes(s.name)) : SUITES;
  const config = configure();
  const head = header(config, suites);
  console.log(`${head}\n`);
  const started = Date.now();
  const rows = [];
  const errors = [];
  for (const suite of suites) {
    process.stderr.write(`${suite.name}:\n`);
    try {
      for (const testCase of suite.cases(config)) rows.push(...(await runCase(testCase, config, errors)));
    } finally {
      suite.cleanup?.();
    }
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(`\n${format(rows)}\n`);
  console.log('(^) higher is better, (v) lower is better; rust/built-in is the ratio of the medians.');
  console.log(`primary CPU comes from /proc/<pid>/stat in 1/${CLK_TCK} s ticks, so values near 0 are below its resolution.`);
  for (const line of notes(rows)) console.log(line);
  if (errors.length) {
    console.log(`\n${errors.length} measurement(s) failed:`);
    for (const e of errors) console.log(`  ${e.case} [${e.impl ? IMPL_LABEL[e.impl] : '-'} round ${e.round}]: ${e.error.split('\n').join('\n    ')}`);
  }
  console.log(`\nload average at the end ${loadavg()}; total time ${seconds.toFixed(0)} s; results in ${path.relative(process.cwd(), RESULTS)}`);
  writeJson(RESULTS, {
    header: head,
    date: new Date().toISOString(),
    machine: config.info,
    config: { ...config, info: undefined, deadline: undefined },
    seconds,
    results: rows.map((r) => ({
      case: r.case,
      metric: r.metric.key,
      label: r.metric.label,
      better: r.metric.better,
      ...(r.value ? { value: r.value } : { builtin: r.builtin, rust: r.rust, ratio: ratio(r) }),
      ...('floorUnavailable' in r ? { floor: r.floor ?? null, floorUnavailable: r.floorUnavailable, ...floorRatios(r) } : {}),
      raw: r.raw,
    })),
    errors,
  });
  process.exitCode = errors.length ? 1 : 0;
}

process.on('exit', killEverything);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killEverything();
    process.exit(130);
  });
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
