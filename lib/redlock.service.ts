import { Inject, Injectable, Logger } from '@nestjs/common';
import { DEFAULTS, LockBusyError, Redlock } from './core/index.js';
import type { AcquireOptions, Lock } from './core/index.js';
import { currentLock, runHolding } from './locking/lock-context.js';
import { REDLOCK_LOGGER_CONTEXT, REDLOCK_MODULE_OPTIONS } from './redlock.constants.js';
import type { RedlockModuleOptions } from './redlock-module-options.js';
import { noteBusyLease } from './errors/retry-after.js';

/**
 * The injectable face of the core Redlock: same acquire / tryAcquire / using, plus `current()`.
 * It also reports what the engine signals through Nest's logger (context 'Redlock'); the
 * engine's events carry `host:port` only, never credentials.
 */
@Injectable()
export class RedlockService {
  private readonly logger = new Logger(REDLOCK_LOGGER_CONTEXT);
  /** The module's default lease, for Retry-After when a call did not name its own. */
  readonly defaultTtl: number;

  constructor(
    readonly redlock: Redlock,
    @Inject(REDLOCK_MODULE_OPTIONS) options: RedlockModuleOptions,
  ) {
    this.defaultTtl = options.ttl ?? DEFAULTS.ttl;
    redlock.on('nodeDown', ({ node, address, error }) =>
      this.logger.warn(`Redis node #${node} (${address}) is down${error ? `: ${error.message}` : ''}`));
    redlock.on('nodeUp', ({ node, address }) => this.logger.log(`Redis node #${node} (${address}) is back up`));
    redlock.on('nodeOut', ({ node, address, reason, countsAgainInMs }) =>
      this.logger.warn(
        `Redis node #${node} (${address}) does not count towards a lock quorum: ${reason}` +
          (countsAgainInMs === undefined ? '' : `; it counts again in ${Math.ceil(countsAgainInMs / 1000)} s`),
      ));
    redlock.on('lockLost', ({ error }) => this.logger.warn(error.message));
    redlock.on('releaseIncomplete', ({ resources, result }) =>
      this.logger.warn(
        `release of the lock on ${resources.join(', ')} reached ${result.nodes} node(s), not a quorum; ` +
          'it may linger until its ttl ends',
      ));
  }

  /** Waits up to `wait` ms; rejects with LockBusyError, QuorumUnavailableError or LockAbortedError. */
  async acquire(resources: string | readonly string[], options?: AcquireOptions): Promise<Lock> {
    try {
      return await this.redlock.acquire(resources, options);
    } catch (error) {
      throw this.noted(error, options);
    }
  }

  /** One attempt: the lock, or null when it is busy. */
  tryAcquire(resources: string | readonly string[], options?: AcquireOptions): Promise<Lock | null> {
    return this.redlock.tryAcquire(resources, options);
  }

  /**
   * Acquire, run `routine(lock)` with auto-extension, release, return its result. The routine
   * runs in a context holding the lock, so `@Locked` methods it calls with the same key re-enter
   * and `current()` returns this lock.
   */
  async using<T>(
    resources: string | readonly string[],
    routine: (lock: Lock) => T | Promise<T>,
    options?: AcquireOptions,
  ): Promise<T> {
    try {
      return await this.redlock.using(resources, (lock) => runHolding(this.redlock, lock, () => routine(lock)), options);
    } catch (error) {
      throw this.noted(error, options);
    }
  }

  /** Whether the resource is held right now, in any mode (a quorum read; a snapshot, not a lock). */
  isLocked(resource: string): Promise<boolean> {
    return this.redlock.isLocked(resource);
  }

  /** The lock held by the enclosing `@Locked` call (or `using()` routine) in this async context. */
  current(): Lock | undefined {
    return currentLock();
  }

  private noted(error: unknown, options: AcquireOptions | undefined): unknown {
    if (error instanceof LockBusyError) noteBusyLease(error, options?.ttl ?? this.defaultTtl);
    return error;
  }
}
