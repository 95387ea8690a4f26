import { LockLostError } from '../errors.js';
import type { Clock, Timer } from '../time/clock.js';

/**
 * How long before the end of validity the signal fires when no extension succeeded (rule 10):
 * 5 % of the lease, at least 10 ms and at most 1 s, so a holder learns of the loss in time
 * to stop, not after the lock expired.
 */
export function expiryWarningMargin(ttl: number): number {
  return Math.min(Math.max(Math.round(ttl * 0.05), 10), 1_000);
}

/** What a lock handle does when its lease is lost. */
export interface LeaseWatchHooks {
  /** true once release() was called: a released lock is neither valid nor lost. */
  isReleasing(): boolean;
  /** Before the signal aborts: stop whatever keeps the lease alive. */
  stopExtension(): void;
  /** After it aborted: report the loss, once. */
  onLost(error: LockLostError): void;
}

/**
 * Rule 10 for one held lease, shared by every lock handle (the engine's, and the in-process one of
 * nestjs-redlock/testing): the deadline, the signal that aborts before it unless the lease was
 * renewed, and the loss, reported once.
 */
export class LeaseWatch {
  /** Made when someone first asks for the signal: most locks are released without anyone looking. */
  private controller: AbortController | undefined;
  /** Why the lease was lost, once it was. */
  private lost: LockLostError | undefined;
  private warningTimer: Timer | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly ttl: number,
    private readonly resources: readonly string[],
    private deadline: number,
    private readonly hooks: LeaseWatchHooks,
  ) {
    this.scheduleExpiryWarning();
  }

  get validUntil(): number {
    return this.deadline;
  }

  get signal(): AbortSignal {
    this.noticeExpiry();
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.lost) this.controller.abort(this.lost);
    }
    return this.controller.signal;
  }

  /** ms of validity left now (0 once expired, lost or released). */
  remaining(): number {
    this.noticeExpiry();
    if (this.hooks.isReleasing() || this.lost) return 0;
    return Math.max(0, this.deadline - this.clock.now());
  }

  /** A successful extension: the new deadline, and a new warning before it. */
  renew(deadline: number): void {
    this.deadline = deadline;
    this.scheduleExpiryWarning();
  }

  /** Nothing scheduled for this lease may run any more (release, rule 12). */
  stop(): void {
    this.warningTimer?.cancel();
    this.warningTimer = undefined;
  }

  /** Abort the signal at once, with the reason, and report it once. */
  lose(reason: string): LockLostError {
    if (this.lost) return this.lost;
    const error = new LockLostError(this.resources, reason);
    this.lost = error;
    this.stop();
    this.hooks.stopExtension();
    this.controller?.abort(error);
    this.hooks.onLost(error);
    return error;
  }

  /**
   * Without waiting for the timer: after the process was frozen (GC pause, swap, SIGSTOP) past
   * the warning time, code that runs before the warning timer (an earlier-due timer of the
   * holder's own) must already see the signal aborted, not just remaining = 0.
   */
  noticeExpiry(): void {
    if (this.hooks.isReleasing() || this.lost) return;
    if (this.clock.now() >= this.deadline - expiryWarningMargin(this.ttl)) {
      this.lose('its validity is about to end and no extension succeeded');
    }
  }

  private scheduleExpiryWarning(): void {
    this.warningTimer?.cancel();
    const fireIn = this.deadline - expiryWarningMargin(this.ttl) - this.clock.now();
    this.warningTimer = this.clock.setTimer(() => {
      this.warningTimer = undefined;
      this.lose('its validity is about to end and no extension succeeded');
    }, fireIn);
  }
}
