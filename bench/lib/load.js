'use strict';
// HTTP load on loopback: wrk when installed, else the small Node generator in
// scenarios/loadgen.js. Both resolve with { requests, seconds, rps, p99Ms, errors }.
const path = require('node:path');
const { start } = require('./proc');
const { which } = require('./system');

const WRK = which('wrk');
const LOADGEN = path.join(__dirname, '..', 'scenarios', 'loadgen.js');

function describeGenerator(connections) {
  return WRK ? `wrk -t1 -c${connections} --latency` : `node scenarios/loadgen.js (wrk not found), ${connections} connections`;
}

const UNIT_MS = { us: 1e-3, ms: 1, s: 1000, m: 60000 };

function parseWrk(text) {
  const number = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : null;
  };
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(text);
  const requests = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(text);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = number(/Non-2xx or 3xx responses: (\d+)/) ?? 0;
  const errors = (socket ? socket.slice(1).reduce((s, v) => s + Number(v), 0) : 0) + non2xx;
  return {
    requests: requests ? Number(requests[1]) : null,
    seconds: requests ? (Number(requests[2]) * UNIT_MS[requests[3]]) / 1000 : null,
    rps: number(/Requests\/sec:\s+([\d.]+)/),
    p99Ms: p99 ? Number(p99[1]) * UNIT_MS[p99[2]] : null,
    errors,
    errorDetail: socket || non2xx ? `${socket ? socket[0] : ''} non-2xx ${non2xx}` : undefined,
  };
}

/** Apply load for `seconds`; mode is 'keepalive' or 'close'. */
async function load({ port, seconds, connections, mode, cpu }) {
  if (!WRK) {
    const proc = start(LOADGEN, { args: [port, connections, seconds, mode], cpu, stdin: 'ignore' });
    try {
      return await proc.waitFor('result', { timeout: (seconds + 30) * 1000 });
    } finally {
      await proc.cleanup();
    }
  }
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s'];
  if (mode === 'close') args.push('-H', 'Connection: close');
  args.push(`http://127.0.0.1:${port}/`);
  const proc = start(WRK, { args, node: false, cpu, stdin: 'ignore' });
  const timer = setTimeout(() => proc.cleanup(), (seconds + 30) * 1000);
  const { code, output } = await proc.exited;
  clearTimeout(timer);
  await proc.cleanup();
  const text = output.join('\n');
  const result = parseWrk(text);
  if (code !== 0 || result.rps == null) throw new Error(`wrk failed (exit ${code}):\n${text}`);
  return result;
}

module.exports = { load, describeGenerator, hasWrk: Boolean(WRK) };
