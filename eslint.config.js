'use strict';
// The JavaScript linter `npm test` runs (`npm run lint`): ESLint's recommended rules for
// Node code, CommonJS by default, ES modules where the file says so.
const js = require('@eslint/js');
const globals = require('globals');

module.exports = [
  { ignores: ['node_modules/', 'target/', 'bench/results/', '**/*.d.ts', '**/*.d.mts'] },
  js.configs.recommended,
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', ecmaVersion: 2024, globals: { ...globals.node } },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', ecmaVersion: 2024, globals: { ...globals.node } },
  },
  {
    // jest's and ava's suites run with their runners' globals.
    files: ['__test__/runners/**'],
    languageOptions: { globals: { ...globals.node, ...globals.jest } },
  },
  {
    rules: {
      'no-unused-vars': ['error', { args: 'none', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // The guide's examples as the user wrote them (unused names included).
    files: ['examples/guide/**'],
    rules: { 'no-unused-vars': 'off' },
  },
];
