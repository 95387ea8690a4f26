import { LockLostError } from '../core/index.js';
import type { Clock, Lock, LockMode, ReleaseResult } from '../core/index.js';
import { AutoExtension } from '../core/engine/auto-extension.js';
import { LeaseWatch } from '../core/engine/lease-watch.js';
import { ttlValue } from '../core/options.js';
import { leaseDeadline } from '../core/time/clock.js';

/** What a handle asks of the engine that granted it. */
export interface MemoryLockContext {
  readonly clock: Clock;
  readonly driftFactor: number;
  /** One extension step: undefined when done, else why it failed (the lock is then lost). */
  extendHold(lock: MemoryLock, ttl: number): string | undefined;
  giveHold(lock: MemoryLock): ReleaseResult;
  onLost(lock: MemoryLock, error: LockLostError): void;
  onReleased(lock: MemoryLock, result: ReleaseResult): void;
}

export interface MemoryLockInit {
  readonly resources: readonly string[];
  readonly value: string;
  readonly mode: LockMode;
  readonly limit: number | undefined;
  readonly fence: number | undefined;
  readonly ttl: number;
  readonly validUntil: number;
}

/**
 * The Lock handle of the in-process engine, with the real handle's timing (engine/held-lease.ts):
 * validity = start + ttl - drift, the signal aborts a warning margin before it ends unless an
 * extension succeeded, an expired lock is never extended, one extension at a time, release once
 * and never rejecting, auto-extension by the core's own AutoExtension.
 */
export class MemoryLock implements Lock {
  readonly resources: readonly string[];
  readonly value: string;
  readonly mode: LockMode;
  readonly limit?: number;
  readonly fence?: number;
  private readonly ttl: number;
  private readonly watch: LeaseWatch;
  private autoExtension: AutoExtension | undefined;
  private extending: Promise<void> = Promise.resolve();
  private releasing: Promise<ReleaseResult> | undefined;

  constructor(
    private readonly context: MemoryLockContext,
    init: MemoryLockInit,
  ) {
    this.resources = init.resources;
    this.value = init.value;
    this.mode = init.mode;
    if (init.limit !== undefined) this.limit = init.limit;
    if (init.fence !== undefined) this.fence = init.fence;
    this.ttl = init.ttl;
    this.watch = new LeaseWatch(context.clock, init.ttl, init.resources, init.validUntil, {
      isReleasing: () => this.releasing !== undefined,
      stopExtension: () => this.autoExtension?.stop(),
      onLost: (error) => this.context.onLost(this, error),
    });
  }

  get validUntil(): number {
    return this.watch.validUntil;
  }

  get remaining(): number {
    return this.watch.remaining();
  }

  get signal(): AbortSignal {
    return this.watch.signal;
  }

  extend(ttl?: number): Promise<void> {
    const lease = ttlValue(ttl, 'ttl') ?? this.ttl;
    const next = this.extending.then(() => this.extendOnce(lease));
    this.extending = next.catch(() => undefined);
    return next;
  }

  release(): Promise<ReleaseResult> {
    this.releasing ??= this.releaseOnce();
    return this.releasing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  startAutoExtension(): void {
    if (this.autoExtension || this.releasing || this.signal.aborted) return;
    this.autoExtension = new AutoExtension(this, this.ttl, this.context.clock);
    this.autoExtension.start();
  }

  private async extendOnce(ttl: number): Promise<void> {
    if (this.releasing) throw new LockLostError(this.resources, 'it was released');
    if (this.signal.aborted) throw this.signal.reason as LockLostError;
    const { clock, driftFactor } = this.context;
    if (this.watch.validUntil <= clock.now()) throw this.lose('it expired before the extension');
    const startedAt = clock.now();
    const failure = this.context.extendHold(this, ttl);
    if (failure !== undefined) throw this.lose(failure);
    this.watch.renew(leaseDeadline(startedAt, ttl, driftFactor));
  }

  private async releaseOnce(): Promise<ReleaseResult> {
    this.watch.noticeExpiry();
    this.autoExtension?.stop();
    this.watch.stop();
    const result = this.context.giveHold(this);
    this.context.onReleased(this, result);
    return result;
  }

  private lose(reason: string): LockLostError {
    return this.watch.lose(reason);
  }
}
