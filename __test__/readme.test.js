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
  const sources = tracked.filter((f) => /^(core\/src\/.*\.rs|src\/.*\.rs|lib\/.*\.(js|mjs|d\.ts)|bin\/.*\.js|scripts\/.*\.js|[^/]+\.(js|mjs|d\.ts|d\.mts))$/.test(f)
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

const { start, getFreePort, get } = require('./helpers/run');

/** The README's ```js blocks. */
function codeBlocks() {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  return [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
}

test('README "Usage": the example is examples/readme/usage.js, and it serves from two workers', async (t) => {
  const file = path.join(root, 'examples', 'readme', 'usage.js');
  assert.ok(codeBlocks().includes(fs.readFileSync(file, 'utf8')), 'the README shows the file verbatim');
  const port = await getFreePort();
  const proc = start(file, { env: { PORT: port } });
  t.after(() => proc.cleanup());
  const seen = new Set();
  for (let i = 0; i < 400 && seen.size < 2; i++) { // up to about 20 s for both to start
    try {
      const res = await get(port, { path: '/' });
      seen.add(res.body.trim());
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50)); // not listening yet
    }
  }
  assert.deepStrictEqual([...seen].sort(), ['worker 1', 'worker 2']);
});

test('README "Settings": the example is examples/readme/settings.js, and it applies', async (t) => {
  const file = path.join(root, 'examples', 'readme', 'settings.js');
  const shown = fs.readFileSync(file, 'utf8').split('\n').slice(2, 5).join('\n');
  assert.ok(codeBlocks().some((block) => block.includes(shown)), 'the README shows the settings call');
  const proc = start(file);
  t.after(() => proc.cleanup());
  const { line } = await proc.waitFor(/^\{"policy"/);
  assert.deepStrictEqual(JSON.parse(line), { policy: 4, maxMessageBytes: 1048576 });
});
