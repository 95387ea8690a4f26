import { LockLostError } from '../errors.js';
import { ttlValue } from '../options.js';
import type { LockMode, Primitive, PrimitiveKeys } from '../primitives/primitive.js';
import type { Clock } from '../time/clock.js';
import { AutoExtension } from './auto-extension.js';
import { LeaseWatch } from './lease-watch.js';
import { leaseStep } from './lease.js';
import type { NodeSet } from './node-set.js';
import { NO_VOTES, votesOf } from './reports.js';
import type { ExtendReport, ReleaseReport } from './reports.js';
import type { RoundOutcome } from './round.js';
import { describeNodeErrors, verdictOf } from './verdict.js';

/** The handle a caller holds while it owns a lock. */
export interface Lock extends AsyncDisposable {
  /** The resources as the caller named them (without the key prefix). */
  readonly resources: readonly string[];
  /** The random owner token (128 bits from a CSPRNG). */
  readonly value: string;
  /** 'read' = shared with other readers; 'write' = exclusive (also a semaphore's permit). */
  readonly mode: LockMode;
  /** A semaphore's number of permits (undefined for other locks). */
  readonly limit?: number;
  /** A fenced lock's fence: larger than the fence of every earlier holder of its resources. */
  readonly fence?: number;
  /** Monotonic deadline, ms on the performance.now() clock. */
  readonly validUntil: number;
  /** ms of validity left now (0 once expired, lost or released). */
  readonly remaining: number;
  /** Aborts before validity ends if the lock is lost or was not extended in time. */
  readonly signal: AbortSignal;
  /** Extend the lease to `ttl` ms from now; rejects with LockLostError when it can no longer be. */
  extend(ttl?: number): Promise<void>;
  /** Compare-and-delete on every node. Never hangs and never rejects. */
  release(): Promise<ReleaseResult>;
}

export interface ReleaseResult {
  /** true when a quorum of nodes deleted our keys. */
  released: boolean;
  /** How many nodes deleted our keys. */
  nodes: number;
}

export interface LockContext {
  readonly nodeSet: NodeSet;
  readonly clock: Clock;
  readonly driftFactor: number;
  readonly nodeTimeout: number;
  /** Called before each extension with its lease (a longer lease widens the restart guard). */
  onExtend?(ttl: number): void;
  /** Called once when the lock is lost (signal aborted for a reason other than release). */
  onLost(lock: LockHandle, error: LockLostError): void;
  /** Called once when release() has finished. */
  onReleased(lock: LockHandle, result: ReleaseResult): void;
  /** Telemetry: each extension's and the release's report; set only while someone listens. */
  onExtendSettled?(report: ExtendReport): void;
  onReleaseSettled?(report: ReleaseReport): void;
}

export { expiryWarningMargin } from './lease-watch.js';

/** Why an extension round fell short, in counts: "busy" alone would blame the token for timeouts. */
function extensionFailure(outcome: RoundOutcome<unknown>, nodeCount: number): string {
  const parts = [`only ${outcome.yes} of ${nodeCount} nodes extended it (${outcome.quorum} needed)`];
  if (outcome.no > 0) parts.push(`${outcome.no} no longer hold our token`);
  if (outcome.errors.length > 0) {
    parts.push(`${outcome.errors.length} failed: ${describeNodeErrors(outcome.errors)}`);
  }
  if (outcome.pending > 0) parts.push(`${outcome.pending} had not answered when the round was decided`);
  return parts.join(', ');
}

/** What a new handle holds: the granted lease and the primitive that took it. */
export interface HeldLeaseInit {
  readonly resources: readonly string[];
  readonly primitive: Primitive;
  readonly keys: PrimitiveKeys;
  readonly value: string;
  readonly ttl: number;
  readonly validUntil: number;
  readonly fence?: number;
}

/** The Lock handle of every primitive: extension, expiry warning and release are the same for all. */
export class LockHandle implements Lock {
  readonly resources: readonly string[];
  readonly value: string;
  readonly mode: LockMode;
  readonly limit?: number;
  readonly fence?: number;
  private readonly primitive: Primitive;
  private readonly keys: PrimitiveKeys;
  private readonly ttl: number;
  private readonly watch: LeaseWatch;
  private autoExtension: AutoExtension | undefined;
  private extending: Promise<void> = Promise.resolve();
  private releasing: Promise<ReleaseResult> | undefined;

  constructor(
    private readonly context: LockContext,
    init: HeldLeaseInit,
  ) {
    this.resources = init.resources;
    this.primitive = init.primitive;
    this.mode = init.primitive.mode;
    if (init.primitive.limit !== undefined) this.limit = init.primitive.limit;
    if (init.fence !== undefined) this.fence = init.fence;
    this.keys = init.keys;
    this.value = init.value;
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

  /** true once release() was called. */
  get isReleased(): boolean {
    return this.releasing !== undefined;
  }

  extend(ttl?: number): Promise<void> {
    const lease = ttlValue(ttl, 'ttl') ?? this.ttl;
    // One extension at a time: a manual extend and the auto-extension must not interleave.
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

  /** Rule 12: keep the lock alive every ttl/3 (or sooner) until release or loss. */
  startAutoExtension(): void {
    if (this.autoExtension || this.releasing || this.signal.aborted) return;
    this.autoExtension = new AutoExtension(this, this.ttl, this.context.clock);
    this.autoExtension.start();
  }

  private async reportedExtend(ttl: number): Promise<void> {
    const { clock } = this.context;
    const startedAt = clock.now();
    let outcome: RoundOutcome<unknown> | undefined;
    const report = (error?: Error): ExtendReport => ({
      lock: this,
      outcome: error ? 'lost' : 'granted',
      votes: outcome ? votesOf(outcome) : NO_VOTES,
      durationMs: clock.now() - startedAt,
      validityMs: this.remaining,
      ...(error ? { error } : {}),
    });
    try {
      await this.extendOnce(ttl, (o) => (outcome = o));
    } catch (error) {
      this.context.onExtendSettled?.(report(error as Error));
      throw error;
    }
    this.context.onExtendSettled?.(report());
  }

  private async extendOnce(ttl: number, seen?: (outcome: RoundOutcome<unknown>) => void): Promise<void> {
    if (this.releasing) throw new LockLostError(this.resources, 'it was released');
    if (this.signal.aborted) throw this.signal.reason as LockLostError;
    const { clock, nodeSet, driftFactor, nodeTimeout } = this.context;
    // Rule 11: only while still valid; never resurrect an expired lease.
    if (this.watch.validUntil <= clock.now()) throw this.lose('it expired before the extension');
    this.context.onExtend?.(ttl);
    const step = await leaseStep(clock, ttl, driftFactor, nodeSet.size, () =>
      nodeSet.extend(this.primitive, this.keys, this.value, ttl, Math.min(nodeTimeout, ttl - 1)),
    );
    seen?.(step.outcome);
    if (this.releasing) throw new LockLostError(this.resources, 'it was released during the extension');
    if (step.verdict !== 'won') throw this.lose(extensionFailure(step.outcome, nodeSet.size));
    if (!step.granted) throw this.lose('the extension took longer than the new lease');
    this.watch.renew(step.validUntil);
  }

  private async releaseOnce(): Promise<ReleaseResult> {
    // A lease that ran out before this release is reported as lost, not silently released.
    this.watch.noticeExpiry();
    // Rule 12: nothing scheduled for this lock may run after release() returns.
    this.autoExtension?.stop();
    this.watch.stop();
    let result: ReleaseResult;
    const startedAt = this.context.onReleaseSettled ? this.context.clock.now() : 0;
    let outcome: RoundOutcome<unknown> | undefined;
    try {
      // Rule 13: compare-and-delete on all N regardless of what we believe, bounded in time.
      const { nodeSet, nodeTimeout } = this.context;
      outcome = await nodeSet.give(this.primitive, this.keys, this.value, this.resources.length, nodeTimeout);
      result = { released: verdictOf(outcome, this.context.nodeSet.size) === 'won', nodes: outcome.yes };
    } catch {
      result = { released: false, nodes: 0 };
    }
    this.context.onReleased(this, result);
    this.context.onReleaseSettled?.({
      lock: this,
      outcome: result.released ? 'released' : 'incomplete',
      votes: outcome ? votesOf(outcome) : NO_VOTES,
      durationMs: this.context.clock.now() - startedAt,
    });
    return result;
  }

  private lose(reason: string): LockLostError {
    return this.watch.lose(reason);
  }
}
