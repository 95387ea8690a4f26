// `node --import ./tools/ts-register.mjs some.ts` runs a TypeScript entry point of this repo.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
