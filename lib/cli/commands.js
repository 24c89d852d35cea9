'use strict';
// The control socket's clients: `rust-cluster status|reload|scale N|stop --control <path>`.
const control = require('./control');

function human(bytes) {
  if (bytes === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function duration(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

/** The status table (id, pid, state, uptime, CPU %, RSS, restarts, connections). */
function table(workers) {
  const rows = [['ID', 'PID', 'STATE', 'UPTIME', 'CPU %', 'RSS', 'RESTARTS', 'CONNECTIONS']];
  for (const w of workers) {
    rows.push([w.id, w.pid, w.state, duration(w.uptime), w.cpu === null ? '-' : w.cpu.toFixed(1), human(w.rss), w.restarts, w.connections].map(String));
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

async function command({ command: cmd, options, n }) {
  const answer = await control.request(options.control, { cmd, n });
  if (!answer.ok) throw new Error(answer.error);
  if (cmd === 'status') {
    process.stdout.write(options.json ? `${JSON.stringify(answer.workers)}\n` : `${table(answer.workers)}\n`);
  } else if (cmd === 'reload') {
    process.stdout.write(`reloaded: ${answer.replaced.map(([a, b]) => `${a} -> ${b}`).join(', ')}\n`);
  } else if (cmd === 'scale') {
    process.stdout.write(`scaled to ${answer.workers}\n`);
  } else {
    process.stdout.write('stopping\n');
  }
}

module.exports = { command, table };
