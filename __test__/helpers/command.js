'use strict';
// Running tools (npm, tar, ...) from the tests: an environment without an outer `npm test`'s
// npm_* settings, and a tagged subprocess that is killed on timeout or when the test ends.

const { spawn } = require('node:child_process');
const { uniqueTag } = require('./processes.js');
const { ROOT, TAG_VAR, killTagged } = require('./run.js');

/** npm settings an outer `npm test` passes down that npm subprocesses may keep (how to reach the registry). */
const KEEP_NPM_CONFIG = /^npm_config_(registry|@.*:registry|cafile|ca|cert|key|strict_ssl|proxy|https_proxy|noproxy|cache|userconfig|globalconfig)$/i;

/**
 * The environment for npm and node subprocesses: without the npm_* variables of an outer
 * `npm test` (npm_config_prefix=/usr there would send a local install to /usr/node_modules).
 */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if ((/^npm_/i.test(key) && !KEEP_NPM_CONFIG.test(key)) || key === 'INIT_CWD' || key === 'NODE_TEST_CONTEXT') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * Run a command (npm, tar, ...); resolves with { code, signal, stdout, stderr }. It and
 * everything it starts (cargo, rustc) carry a tag and are killed if it times out or the
 * test ends early.
 */
function command(t, file, args, { cwd = ROOT, env = cleanEnv(), timeout = 120_000 } = {}) {
  const tag = uniqueTag('cmd');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env: { ...env, [TAG_VAR]: tag }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk; });
    const timer = setTimeout(() => {
      killTagged(tag);
      reject(new Error(`${file} ${args.join(' ')} timed out after ${timeout} ms\n${stdout}\n${stderr}`));
    }, timeout);
    t.after(() => {
      clearTimeout(timer);
      killTagged(tag);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

module.exports = { cleanEnv, command };
