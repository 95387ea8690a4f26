// Native ESM jest (see ../shared/design/TOOLCHAIN.md): run with NODE_OPTIONS=--experimental-vm-modules.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': '@swc/jest' },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/sample-app/test/**/*.test.ts'],
  testTimeout: 30_000,
  // A Docker engine and the local Redis image for the tests on containers (startRedisNodes).
  globalSetup: '<rootDir>/test/support/container-engine.global-setup.mjs',
};
