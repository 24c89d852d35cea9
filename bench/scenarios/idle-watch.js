'use strict';
// The primary's CPU while it watches idle workers: WORKERS idle workers forked with the
// settings WATCH names (off | sample: maxMemory, sampled every second | heartbeat: every
// second | all), then the primary's own CPU time over MEASURE seconds, from /proc.
// Prints {"cpuPercent": ...} (100 = one core) and ends its workers.
const fs = require('fs');
const cluster = require('rust-cluster');

if (cluster.isWorker) {
  setInterval(() => {}, 60000);
} else {
  const WORKERS = Number(process.env.WORKERS || 64);
  const MEASURE = Number(process.env.MEASURE || 10);
  const settings = {
    off: {},
    sample: { maxMemory: '1T', sampleInterval: 1000 },
    heartbeat: { heartbeat: { interval: 1000, timeout: 10000 } },
    all: { maxMemory: '1T', sampleInterval: 1000, heartbeat: { interval: 1000, timeout: 10000 } },
  }[process.env.WATCH || 'off'];
  cluster.setupPrimary(settings);
  const cpuTicks = () => {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  };
  let online = 0;
  cluster.on('online', () => {
    if (++online < WORKERS) return;
    // Let start-up settle (the workers' first beats, the first samples) before measuring.
    setTimeout(() => {
      const t0 = process.hrtime.bigint();
      const c0 = cpuTicks();
      setTimeout(() => {
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        const cpuPercent = ((cpuTicks() - c0) / 100 / seconds) * 100;
        console.log(JSON.stringify({ cpuPercent }));
        for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGKILL');
        process.exit(0);
      }, MEASURE * 1000);
    }, 2000);
  });
  for (let i = 0; i < WORKERS; i++) cluster.fork();
}
