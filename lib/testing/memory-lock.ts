import { LockLostError } from '../core/index.js';
import type { Clock, Lock, LockMode, ReleaseResult } from '../core/index.js';
import { AutoExtension } from '../core/engine/auto-extension.js';
import { LeaseWatch } from '../core/engine/lease-watch.js';
import { NO_VOTES } from '../core/engine/reports.js';
import type { ExtendReport, ReleaseReport, RoundVotes } from '../core/engine/reports.js';
import { ttlValue } from '../core/options.js';
import { leaseDeadline } from '../core/time/clock.js';

/** What a handle asks of the engine that granted it. */
export interface MemoryLockContext {
  readonly clock: Clock;
  readonly driftFactor: number;
  /** One extension round: how the simulated nodes voted, and why it failed (the lock is then lost). */
  extendHold(lock: MemoryLock, ttl: number): { readonly votes: RoundVotes; readonly failure?: string };
  giveHold(lock: MemoryLock): { readonly result: ReleaseResult; readonly votes: RoundVotes };
  onLost(lock: MemoryLock, error: LockLostError): void;
  onReleased(lock: MemoryLock, result: ReleaseResult): void;
  /** Telemetry, set only for locks made while someone listens (as the real engine's). */
  onExtendSettled?(report: ExtendReport): void;
  onReleaseSettled?(report: ReleaseReport): void;
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

  /** true once release() was called (as on the real handle). */
  get isReleased(): boolean {
    return this.releasing !== undefined;
  }

  extend(ttl?: number): Promise<void> {
    const lease = ttlValue(ttl, 'ttl') ?? this.ttl;
    const next = this.extending.then(() => (this.context.onExtendSettled ? this.reportedExtend(lease) : this.extendOnce(lease)));
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

  /** As the real handle: one ExtendReport per extension, refused ones included (with no votes). */
  private async reportedExtend(ttl: number): Promise<void> {
    const { clock } = this.context;
    const startedAt = clock.now();
    let votes = NO_VOTES;
    const report = (error?: Error): ExtendReport => ({
      lock: this,
      outcome: error ? 'lost' : 'granted',
      votes,
      durationMs: clock.now() - startedAt,
      validityMs: this.remaining,
      ...(error ? { error } : {}),
    });
    try {
      await this.extendOnce(ttl, (seen) => (votes = seen));
    } catch (error) {
      this.context.onExtendSettled?.(report(error as Error));
      throw error;
    }
    this.context.onExtendSettled?.(report());
  }

  private async extendOnce(ttl: number, seen?: (votes: RoundVotes) => void): Promise<void> {
    if (this.releasing) throw new LockLostError(this.resources, 'it was released');
    if (this.signal.aborted) throw this.signal.reason as LockLostError;
    const { clock, driftFactor } = this.context;
    if (this.watch.validUntil <= clock.now()) throw this.lose('it expired before the extension');
    const startedAt = clock.now();
    const { votes, failure } = this.context.extendHold(this, ttl);
    seen?.(votes);
    if (failure !== undefined) throw this.lose(failure);
    this.watch.renew(leaseDeadline(startedAt, ttl, driftFactor));
  }

  private async releaseOnce(): Promise<ReleaseResult> {
    this.watch.noticeExpiry();
    this.autoExtension?.stop();
    this.watch.stop();
    const { clock } = this.context;
    const startedAt = clock.now();
    const { result, votes } = this.context.giveHold(this);
    this.context.onReleased(this, result);
    this.context.onReleaseSettled?.({ lock: this, outcome: result.released ? 'released' : 'incomplete', votes, durationMs: clock.now() - startedAt });
    return result;
  }

  private lose(reason: string): LockLostError {
    return this.watch.lose(reason);
  }
}
