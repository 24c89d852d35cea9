'use strict';
// The README's "How it is built" table names every source file of the tree (or the
// directory that holds it), so it cannot fall behind the code.
const test = require('node:test');
const assert = require('node:assert');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

function builtSection() {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('## How it is built');
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end);
}

test("README's How it is built table names every source file", () => {
  const names = new Set([...builtSection().matchAll(/`([^`]+)`/g)].map((m) => m[1]));
  const tracked = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n');
  const sources = tracked.filter((f) => /^(core\/src\/.*\.rs|src\/.*\.rs|lib\/.*\.js|bin\/.*\.js|scripts\/.*\.js|[^/]+\.(js|mjs|d\.ts|d\.mts))$/.test(f)
    && !/^(eslint\.config\.js)$/.test(f));
  const missing = sources.filter((file) => {
    const inCore = file.startsWith('core/src/') ? file.slice('core/src/'.length) : null;
    const inBinding = file.startsWith('src/') ? file.slice('src/'.length) : null;
    // A file, or a directory below the top ones (`channel/`, `lib/cli/`) that the table
    // describes as a whole.
    const dirs = [path.dirname(file), inCore && path.dirname(inCore)]
      .filter((dir) => dir && !['.', 'core/src', 'src', 'lib', 'bin', 'scripts'].includes(dir))
      .map((dir) => `${dir}/`);
    const candidates = [file, inCore, inBinding, ...dirs].filter(Boolean);
    return !candidates.some((c) => names.has(c));
  });
  assert.deepStrictEqual(missing, [], 'files the table does not name');
});
