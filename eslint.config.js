// ESLint flat config: the recommended JS and typescript-eslint rules over lib/, test/, bench/,
// scripts/ and bin/. Formatting is Prettier's job (npm run format:check), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'build/**',
      'build-cuda/**',
      'build-cuda-check/**',
      'prebuilds/**',
      'node_modules/**',
      '.tap/**',
      'bench/out/**',
      '.device/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_`-prefixed names mark arguments kept for a signature's sake.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // An empty catch is how a line that is not JSON (or a file already gone) is skipped on purpose.
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  // CommonJS helpers (binding.gyp runs scripts/native-sources.cjs) use require by nature.
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  // Tests match terminal output, which is made of ANSI escapes.
  { files: ['test/**'], rules: { 'no-control-regex': 'off' } },
);
