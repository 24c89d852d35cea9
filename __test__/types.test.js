'use strict';
// The TypeScript declarations (index.d.ts, index.d.mts): the guide's examples written in
// TypeScript must type-check, the wrong usages marked `// @ts-expect-error` must not
// (tsc reports an unused directive otherwise), and index.d.mts must declare exactly the
// named exports index.mjs has.
const { test } = require('node:test');
const assert = require('node:assert');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

test('tsc -p __test__/types --noEmit passes with no output', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(
    process.execPath,
    [tsc, '-p', path.join(__dirname, 'types'), '--noEmit', '--pretty', 'false'],
    { cwd: root, encoding: 'utf8', timeout: 60_000 },
  );
  assert.ifError(result.error);
  assert.strictEqual(result.stdout + result.stderr, '', 'tsc printed diagnostics');
  assert.strictEqual(result.status, 0);
});

/** The names of the value exports of an ES module (or .d.mts), `default` included. */
function valueExports(file) {
  const ts = require('typescript');
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const names = [];
  const isExported = (node) => ts.getModifiers?.(node)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  const isDefault = (node) => ts.getModifiers?.(node)?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword);
  const bindingNames = (name) => (ts.isIdentifier(name)
    ? [name.text]
    : name.elements.flatMap((element) => (ts.isOmittedExpression(element) ? [] : bindingNames(element.name))));
  for (const statement of source.statements) {
    if (ts.isVariableStatement(statement) && isExported(statement)) {
      for (const declaration of statement.declarationList.declarations) names.push(...bindingNames(declaration.name));
    } else if ((ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) && isExported(statement)) {
      names.push(isDefault(statement) ? 'default' : statement.name.text);
    } else if (ts.isExportAssignment(statement)) {
      names.push('default');
    } else if (ts.isExportDeclaration(statement) && !statement.isTypeOnly) {
      assert.ok(statement.exportClause && ts.isNamedExports(statement.exportClause), `${file}: export * is not handled`);
      for (const element of statement.exportClause.elements) {
        if (!element.isTypeOnly) names.push(element.name.text);
      }
    }
  }
  return names.sort();
}

test('index.d.mts declares exactly the named exports of index.mjs', () => {
  assert.deepStrictEqual(valueExports(path.join(root, 'index.d.mts')), valueExports(path.join(root, 'index.mjs')));
});
