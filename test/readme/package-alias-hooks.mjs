// Resolve hook: a bare `nestjs-redlock` specifier goes to its source file in lib/ (see
// example-register.mjs); everything else resolves as usual.
import { pathToFileURL } from 'node:url';

let entries = {};

export async function initialize(data) {
  entries = data ?? {};
}

export async function resolve(specifier, context, nextResolve) {
  const file = entries[specifier];
  return file ? nextResolve(pathToFileURL(file).href, context) : nextResolve(specifier, context);
}
