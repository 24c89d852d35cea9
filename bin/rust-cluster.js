#!/usr/bin/env node
'use strict';
// rust-cluster's command line: see `rust-cluster --help` and the README's "Command line".
const { parse, help, UsageError } = require('../lib/cli/options');

function fail(message, code) {
  process.stderr.write(`rust-cluster: ${message}\n`);
  process.exit(code);
}

let parsed;
try {
  parsed = parse(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) fail(err.message, 2);
  throw err;
}

switch (parsed.command) {
  case 'help':
    process.stdout.write(help());
    break;
  case 'version':
    process.stdout.write(`${require('../package.json').version}\n`);
    break;
  case 'run':
    require('../lib/cli/run').run(parsed).catch((err) => fail(err.message, 1));
    break;
  default:
    require('../lib/cli/commands').command(parsed).catch((err) => fail(err.message, 1));
}
