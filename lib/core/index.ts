export { Redlock } from './redlock.js';
export type { RedlockEvents } from './redlock.js';
export type { Lock, ReleaseResult } from './lock.js';
export type { AcquireOptions, RedlockOptions } from './options.js';
export { DEFAULTS } from './options.js';
export type { NodeSpec } from './connections.js';
export type { RedisConnection } from './ioredis-node.js';
export type { Clock, Timer } from './clock.js';
export { monotonicClock } from './clock.js';
export {
  LockAbortedError,
  LockBusyError,
  LockLostError,
  QuorumUnavailableError,
  RedlockConfigError,
  RedlockError,
} from './errors.js';
export type { NodeError, RedlockErrorCode } from './errors.js';
