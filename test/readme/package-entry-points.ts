import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every entry point of the package (`nestjs-redlock`, `nestjs-redlock/core`, ...) mapped to its
 * source file in lib/, read from package.json's `exports` (`./dist/x/index.js` -> `lib/x/index.ts`),
 * so README examples import the package by its public name and a new entry point needs no edit here.
 */
export function packageEntryPoints(root: string): { readonly name: string; readonly entries: Readonly<Record<string, string>> } {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, string | { default: string }> };
  const entries: Record<string, string> = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const built = typeof target === 'string' ? target : target.default;
    if (!built.startsWith('./dist/') || !built.endsWith('.js')) continue; // ./package.json
    const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
    entries[specifier] = join(root, 'lib', built.slice('./dist/'.length).replace(/\.js$/, '.ts'));
  }
  return { name: pkg.name, entries };
}
