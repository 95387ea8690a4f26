export { Redlock } from './redlock.js';
export type { RedlockEvents } from './redlock.js';
export type { Lock, ReleaseResult } from './engine/held-lease.js';
export type { AcquireOutcome, AcquireReport, ExtendReport, ReleaseReport, RoundVotes } from './engine/reports.js';
export type { LockMode } from './primitives/primitive.js';
export type { AcquireOptions, RedlockOptions } from './options.js';
export { DEFAULTS } from './options.js';
export type { NodeSpec } from './nodes/connections.js';
export type { RedisConnection } from './nodes/ioredis-node.js';
export type { Clock, Timer } from './time/clock.js';
export { monotonicClock } from './time/clock.js';
export {
  LockAbortedError,
  LockBusyError,
  LockLostError,
  QuorumUnavailableError,
  RedlockConfigError,
  RedlockError,
} from './errors.js';
export type { NodeError, RedlockErrorCode } from './errors.js';
export { defaultFenceKey, fencedWrite } from './store/fenced-write.js';
export type { FencedWriteOptions, FencedWriteResult } from './store/fenced-write.js';
