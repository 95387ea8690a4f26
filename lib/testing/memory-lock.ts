import { LockLostError } from '../core/index.js';
import type { Clock, Lock, LockMode, ReleaseResult, Timer } from '../core/index.js';
import { AutoExtension } from '../core/engine/auto-extension.js';
import { expiryWarningMargin } from '../core/engine/held-lease.js';
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
  private deadline: number;
  private readonly controller = new AbortController();
  private warningTimer: Timer | undefined;
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
    this.deadline = init.validUntil;
    this.scheduleExpiryWarning();
  }

  get validUntil(): number {
    return this.deadline;
  }

  get remaining(): number {
    this.noticeExpiry();
    if (this.releasing || this.controller.signal.aborted) return 0;
    return Math.max(0, this.deadline - this.context.clock.now());
  }

  get signal(): AbortSignal {
    this.noticeExpiry();
    return this.controller.signal;
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
    if (this.deadline <= clock.now()) throw this.lose('it expired before the extension');
    const startedAt = clock.now();
    const failure = this.context.extendHold(this, ttl);
    if (failure !== undefined) throw this.lose(failure);
    this.deadline = leaseDeadline(startedAt, ttl, driftFactor);
    this.scheduleExpiryWarning();
  }

  private async releaseOnce(): Promise<ReleaseResult> {
    this.noticeExpiry();
    this.autoExtension?.stop();
    this.warningTimer?.cancel();
    this.warningTimer = undefined;
    const result = this.context.giveHold(this);
    this.context.onReleased(this, result);
    return result;
  }

  /** As the real handle: code that runs after the warning time sees the signal aborted, timer or not. */
  private noticeExpiry(): void {
    if (this.releasing || this.controller.signal.aborted) return;
    if (this.context.clock.now() >= this.deadline - expiryWarningMargin(this.ttl)) {
      this.lose('its validity is about to end and no extension succeeded');
    }
  }

  private scheduleExpiryWarning(): void {
    this.warningTimer?.cancel();
    const { clock } = this.context;
    const fireIn = this.deadline - expiryWarningMargin(this.ttl) - clock.now();
    this.warningTimer = clock.setTimer(() => {
      this.warningTimer = undefined;
      this.lose('its validity is about to end and no extension succeeded');
    }, fireIn);
  }

  private lose(reason: string): LockLostError {
    if (this.controller.signal.aborted) return this.controller.signal.reason as LockLostError;
    const error = new LockLostError(this.resources, reason);
    this.warningTimer?.cancel();
    this.warningTimer = undefined;
    this.autoExtension?.stop();
    this.controller.abort(error);
    this.context.onLost(this, error);
    return error;
  }
}
