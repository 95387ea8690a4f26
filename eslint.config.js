import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'dist-sample/**', 'node_modules/**', 'coverage/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // The engine must stay usable from any Node program: nothing from NestJS below lib/core, and
  // its layers only look down: redlock.ts -> engine/ -> primitives/ -> nodes/ -> time/ (options.ts
  // and errors.ts, at the top of lib/core, are shared by every layer).
  ...coreLayer(['lib/core/*.ts'], ['../*']),
  ...coreLayer(['lib/core/engine/**/*.ts'], ['../../*']),
  ...coreLayer(['lib/core/primitives/**/*.ts'], ['../../*', '../engine/*', '../redlock.js']),
  ...coreLayer(['lib/core/nodes/**/*.ts'], ['../../*', '../engine/*', '../primitives/*', '../redlock.js']),
  ...coreLayer(['lib/core/time/**/*.ts'], ['../../*', '../engine/*', '../primitives/*', '../nodes/*', '../redlock.js']),
  // store/ is beside the engine, not in it: helpers for the data store a lock protects, which
  // need no lock machinery (only errors.ts).
  ...coreLayer(['lib/core/store/**/*.ts'], ['../../*', '../engine/*', '../primitives/*', '../nodes/*', '../time/*', '../redlock.js', '../options.js']),
);

/** Import bans of one layer of lib/core. */
function coreLayer(files, below) {
  return [{
    files,
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['@nestjs/*', 'rxjs', 'rxjs/*', 'reflect-metadata', ...below],
          message: 'lib/core is the framework-free engine, and its layers only import downwards (see eslint.config.js).' }],
      }],
    },
  }];
}
