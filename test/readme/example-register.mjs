// `node --import ./test/readme/example-register.mjs example.ts` runs a README example as a user's
// module would run: TypeScript compiled on load (tools/ts-hooks.mjs), and `nestjs-redlock/...`
// imports resolved to this repository's sources. The map comes from the test, in
// README_EXAMPLE_ENTRY_POINTS (package-entry-points.ts: specifier -> file in lib/).
import { register } from 'node:module';

register('../../tools/ts-hooks.mjs', import.meta.url);
register('./package-alias-hooks.mjs', import.meta.url, { data: JSON.parse(process.env.README_EXAMPLE_ENTRY_POINTS ?? '{}') });
