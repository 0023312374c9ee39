// ESLint flat config for php-wasm-server. Run by scripts/lint.cjs from the repository root with
// `--config tools/lint/eslint.config.mjs`, so the patterns below are relative to the root.
// typescript-eslint's `recommended` (syntax only): the type-aware `recommendedTypeChecked` works with
// this tsconfig but took 38-54 s here and reports ~910 findings (346 no-floating-promises: tap's t.test).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', '**/node_modules/**', 'var/**', 'test-artifacts/**', 'test/fixtures/**', '.tap/**'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      // HTTP validation matches control bytes on purpose (header values, URLs, PHP's JSON).
      'no-control-regex': 'off',
      // `const { dropped: _x, ...rest } = o` is how a key is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // Teardowns are registered before the resource exists (`let server; t.teardown(() => server?.close())`).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // CommonJS on purpose: these run from npm's postinstall and the Docker build, before any compile.
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
