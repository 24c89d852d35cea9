'use strict';
// Shared by the scenario scripts: messages to the orchestrator are "@bench <json>" lines on
// stdout; commands from it are JSON lines on stdin (primary only).

function emit(type, data = {}) {
  process.stdout.write(`@bench ${JSON.stringify({ type, ...data })}\n`);
}

function onCommand(handler) {
  const rl = require('node:readline').createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim()) handler(JSON.parse(line));
  });
}

function intEnv(name, fallback) {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/** Milliseconds, high resolution. */
function now() {
  return Number(process.hrtime.bigint()) / 1e6;
}

module.exports = { emit, onCommand, intEnv, now };
