// nestjs-redlock/testing: locks for users' own tests, without Redis.
export { RedlockTestingModule } from './redlock-testing.module.js';
export type { RedlockTestingModuleOptions } from './redlock-testing.module.js';
export type { RedlockTestingModuleAsyncOptions } from './redlock-testing.module.js';
export { InMemoryRedlock } from './in-memory-redlock.js';
export type { InMemoryRedlockOptions } from './in-memory-options.js';
export { RedlockTestingControls } from './redlock-testing-controls.js';
export type { HeldElsewhere, HeldLock, HoldOptions } from './redlock-testing-controls.js';
export { startRedisNodes } from './redis-containers.js';
export type { StartedRedisNodes } from './redis-containers.js';
export type { StartedRedisNode, RedisNodeState } from './redis-container-node.js';
export type { StartRedisNodesOptions } from './redis-container-options.js';
