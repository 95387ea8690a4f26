// The NestJS 11 leg (npm run test:nest11): the NestJS layer's tests, and the sample app's, against the
// second install in .ci/nest11 (NestJS 11, the last CommonJS line) instead of the root's NestJS 12.
// Every '@nestjs/...' import, the package entry or a deep path, from the library, the tests or from
// the NestJS 11 packages themselves, is sent to .ci/nest11/node_modules. Their other dependencies
// (express, fastify, ...) resolve next to them; rxjs and reflect-metadata are not installed there
// (.ci/nest11/.npmrc) and come from the root install, shared with the library as in an application.
// So do the peers that the transport tests (test/nest/transports) need: graphql, @apollo/server and
// @as-integrations/express5 (one graphql for @nestjs/graphql 13 and Apollo, as an app would have).
// test/nest/nest-version.test.ts proves which major version was loaded.
import base from './jest.config.js';

const nest11 = '<rootDir>/.ci/nest11';

export default {
  ...base,
  moduleNameMapper: {
    ...base.moduleNameMapper,
    '^@nestjs/core/internal$': `${nest11}/core-internal.mjs`,
    '^@nestjs/(.*)$': `${nest11}/node_modules/@nestjs/$1`,
  },
  testMatch: ['<rootDir>/test/nest/**/*.test.ts', '<rootDir>/sample-app/test/**/*.test.ts'],
  globals: { NEST_INSTALL: '.ci/nest11' },
};
