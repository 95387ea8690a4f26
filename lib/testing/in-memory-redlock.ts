import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { LockAbortedError, LockBusyError, QuorumUnavailableError, RedlockConfigError } from '../core/index.js';
import type { AcquireOptions, Lock, Redlock, RedlockEvents, ReleaseResult } from '../core/index.js';
import { acquireReported, reportSafely } from '../core/engine/reports.js';
import type { ReportEvents, ReportSink, RoundVotes } from '../core/engine/reports.js';
import type { RoundOutcome } from '../core/engine/round.js';
import { describeNodeErrors } from '../core/engine/verdict.js';
import { show } from '../core/errors.js';
import { resolveCallSettings, resolveResources } from '../core/options.js';
import type { CallSettings, EngineSettings } from '../core/options.js';
import { leaseDeadline } from '../core/time/clock.js';
import { resolveInMemorySettings } from './in-memory-options.js';
import type { InMemoryRedlockOptions } from './in-memory-options.js';
import { holdKindOf, MemoryHolds } from './memory-holds.js';
import type { HoldKind, TakeResult } from './memory-holds.js';
import { MemoryLock } from './memory-lock.js';
import type { MemoryLockContext } from './memory-lock.js';
import { RedlockTestingControls } from './redlock-testing-controls.js';
import { SimulatedNodes } from './simulated-nodes.js';

/** Bytes of the owner token, as the real engine's (128 bits from the CSPRNG). */
const TOKEN_BYTES = 16;

/** As the real engine: a waiter that hears releases still looks again this often (an expiry announces nothing). */
const FALLBACK_WITH_WAKE_UPS_MS = 1_000;

/** The public surface the NestJS layer and users call; the real Redlock's, checked by the compiler. */
type RedlockSurface = Pick<Redlock, 'acquire' | 'tryAcquire' | 'using' | 'isLocked' | 'quit' | 'keyPrefix' | 'clients'>;

/**
 * An in-process stand-in for the core `Redlock`, for tests: the same methods, options,
 * validation, errors and events, over a lock table in memory instead of Redis nodes. Waiting,
 * busy vs unavailable, leases that end, extension, release results, read/write locks,
 * semaphores, fences and fair lines behave as on real nodes; `controls` makes resources busy and
 * nodes fail. Events: acquireSettled / extendSettled / releaseSettled (the simulated nodes' votes),
 * lockLost, releaseIncomplete, nodeDown / nodeUp; never nodeOut (no simulated node restarts).
 *
 * Not a lock between processes: two InMemoryRedlock instances know nothing of each other. One
 * lock table stands for every node: a release that reaches too few nodes leaves the whole hold.
 */
export class InMemoryRedlock extends EventEmitter<RedlockEvents> implements RedlockSurface {
  readonly controls: RedlockTestingControls;
  private readonly settings: EngineSettings;
  private readonly nodes: SimulatedNodes;
  private readonly holds: MemoryHolds;
  private readonly held = new Set<MemoryLock>();
  private readonly holdOf = new WeakMap<MemoryLock, HoldKind>();
  /** Fair locks: their release names the waiter first in line. */
  private readonly fairLocks = new WeakSet<MemoryLock>();
  /** Counts acquire calls, so a release wakes the longest-waiting writer first. */
  private arrivals = 0;
  private closing: Promise<void> | undefined;

  constructor(options?: InMemoryRedlockOptions) {
    super();
    const { engine, nodeCount } = resolveInMemorySettings(options);
    this.settings = engine;
    this.nodes = new SimulatedNodes(nodeCount);
    this.holds = new MemoryHolds(engine.clock);
    this.controls = new RedlockTestingControls({
      settings: engine,
      holds: this.holds,
      nodes: this.nodes,
      nodeChanged: (node, address, health) => {
        if (health === 'down') this.emit('nodeDown', { node, address, error: new Error('taken down by the test') });
        else this.emit('nodeUp', { node, address });
      },
    });
  }

  get keyPrefix(): string {
    return this.settings.keyPrefix;
  }

  /** No Redis clients: there are no connections. */
  get clients(): readonly Redis[] {
    return [];
  }

  async acquire(resources: string | readonly string[], options?: AcquireOptions): Promise<Lock> {
    const names = resolveResources(resources);
    const call = resolveCallSettings(this.settings, options);
    const lock = (await this.acquireLock(names, call, false))!;
    if (call.autoExtend === true) lock.startAutoExtension();
    return lock;
  }

  async tryAcquire(resources: string | readonly string[], options?: AcquireOptions): Promise<Lock | null> {
    const names = resolveResources(resources);
    const call = resolveCallSettings(this.settings, options);
    const lock = await this.acquireLock(names, call, true);
    if (lock && call.autoExtend === true) lock.startAutoExtension();
    return lock;
  }

  async using<T>(resources: string | readonly string[], routine: (lock: Lock) => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    const names = resolveResources(resources);
    if (typeof routine !== 'function') throw new RedlockConfigError('routine', 'must be a function (lock) => result');
    const call = resolveCallSettings(this.settings, options);
    const lock = (await this.acquireLock(names, call, false))!;
    if (call.autoExtend !== false) lock.startAutoExtension();
    try {
      return await routine(lock);
    } finally {
      await lock.release();
    }
  }

  async isLocked(resource: string): Promise<boolean> {
    if (typeof resource !== 'string') throw new RedlockConfigError('resource', `must be a non-empty string, got ${show(resource)}`);
    const [name] = resolveResources(resource, 'resource');
    if (this.closing) throw new QuorumUnavailableError('this Redlock instance has been quit', []);
    const failed = this.nodes.failuresBelow(this.nodes.quorumFor(undefined));
    if (failed) {
      throw new QuorumUnavailableError(
        `cannot tell whether ${name} is locked: ${failed.length} of ${this.nodes.size} nodes failed (${describeNodeErrors(failed)})`,
        failed,
      );
    }
    return this.holds.isHeld(name!);
  }

  quit(): Promise<void> {
    this.closing ??= Promise.all([...this.held].map((lock) => lock.release())).then(() => undefined);
    return this.closing;
  }

  /** As the real engine: an AcquireReport per call, built only while someone listens for acquireSettled. */
  private acquireLock(resources: readonly string[], call: CallSettings, once: boolean): Promise<MemoryLock | null> {
    const kind = { resources, mode: call.mode, limit: call.limit, fenced: call.fenced, once };
    return acquireReported(this.reportSink, this.settings.clock, kind, (onRound) => this.takeLock(resources, call, once, onRound));
  }

  /** Telemetry never changes what a call answers (reports.ts). */
  private report<E extends keyof ReportEvents>(event: E, report: ReportEvents[E]): void {
    reportSafely(this.reportSink, event, report);
  }

  private get reportSink(): ReportSink {
    return this as unknown as ReportSink;
  }

  /** The attempts of one call (engine/attempts.ts): pacing, busy vs unavailable, the waiter's wake-ups, the fair line. */
  private async takeLock(
    resources: readonly string[],
    call: CallSettings,
    once: boolean,
    onRound?: (outcome: RoundOutcome<unknown>) => void,
  ): Promise<MemoryLock | null> {
    if (this.closing) throw new QuorumUnavailableError('this Redlock instance has been quit', []);
    const { clock, driftFactor } = this.settings;
    const hold = holdKindOf(call.mode, call.limit);
    const token = randomBytes(TOKEN_BYTES).toString('hex');
    const arrival = (this.arrivals += 1);
    const startedAt = clock.now();
    const giveUpAt = startedAt + (once ? 0 : call.wait);
    const quorum = this.nodes.quorumFor(call.limit);
    let attempts = 0;
    let holderMs: number | undefined;
    try {
      for (;;) {
        if (call.signal?.aborted) throw new LockAbortedError(resources, call.signal.reason);
        attempts += 1;
        const failed = this.nodes.failuresBelow(quorum);
        if (failed) {
          // The nodes still up answer as they would; too few of them to decide anything.
          const yes = this.holds.wouldTake(token, resources, hold, call.fair) ? this.nodes.up : 0;
          onRound?.(this.round(quorum, { yes, no: this.nodes.up - yes }));
          throw new QuorumUnavailableError(
            `cannot lock ${resources.join(', ')}: ${failed.length} of ${this.nodes.size} nodes failed (${describeNodeErrors(failed)})`,
            failed,
          );
        }
        const attemptAt = clock.now();
        const taken: TakeResult = this.holds.take(token, resources, hold, call.ttl, call.fenced, call.fair);
        onRound?.(this.round(quorum, taken.kind === 'taken' ? { yes: this.nodes.up, no: 0 } : { yes: 0, no: this.nodes.up }));
        if (taken.kind === 'taken') {
          const validUntil = leaseDeadline(attemptAt, call.ttl, driftFactor);
          if (validUntil <= clock.now()) {
            this.holds.give(token, resources, hold, call.fair);
            throw new QuorumUnavailableError(`a quorum granted the lock on ${resources.join(', ')} too late to leave any validity`, []);
          }
          const lock = new MemoryLock(this.lockContext(), {
            resources,
            value: token,
            mode: call.mode,
            limit: call.limit,
            fence: taken.fence,
            ttl: call.ttl,
            validUntil,
          });
          this.holdOf.set(lock, hold);
          if (call.fair) this.fairLocks.add(lock);
          this.held.add(lock);
          if (call.signal?.aborted) {
            await lock.release();
            throw new LockAbortedError(resources, call.signal.reason);
          }
          return lock;
        }
        if (taken.kind === 'mismatch') throw kindMismatch(resources, call.limit, taken.theirs);
        holderMs = taken.holderMs;
        const left = giveUpAt - clock.now();
        if (left <= 0) break;
        const end = await this.pause(resources, call, { token, arrival }, left, holderMs);
        if (end === 'aborted') throw new LockAbortedError(resources, call.signal?.reason);
      }
    } finally {
      this.holds.stopWaiting(token, resources, call.fair);
    }
    if (once) return null;
    throw new LockBusyError(resources, attempts, clock.now() - startedAt, holderMs);
  }

  /** One round as the simulated nodes voted: the nodes that are down are its errors. */
  private round(quorum: number, votes: Omit<RoundVotes, 'errors'>): RoundOutcome<unknown> {
    return { ...votes, errors: this.nodes.errors(), pending: 0, quorum, values: [] };
  }

  /**
   * Rule 9 as the real engine paces it: retryDelay + jitter, or with wake-ups until a release of
   * one of the resources (the timer only as a fallback), never past `wait` nor past the end of
   * the lease that blocked us.
   */
  private pause(
    resources: readonly string[],
    call: CallSettings,
    who: { readonly token: string; readonly arrival: number },
    left: number,
    holderMs: number | undefined,
  ): Promise<'woken' | 'aborted'> {
    const { clock, wakeUps } = this.settings;
    const jitter = Math.random() * call.retryJitter;
    const fallback = wakeUps ? Math.max(FALLBACK_WITH_WAKE_UPS_MS, call.retryDelay) + jitter : call.retryDelay + jitter;
    const untilFree = holderMs === undefined ? Infinity : holderMs + 1 + Math.random() * Math.min(call.retryJitter, 5);
    const ms = Math.max(0, Math.min(left, fallback, untilFree));
    return new Promise((resolve) => {
      if (call.signal?.aborted) return resolve('aborted');
      const done = (end: 'woken' | 'aborted') => {
        timer.cancel();
        unhear?.();
        call.signal?.removeEventListener('abort', onAbort);
        resolve(end);
      };
      const onAbort = () => done('aborted');
      // A waiting acquire keeps the process alive, as the real one does.
      const timer = clock.setTimer(() => done('woken'), ms, { keepAlive: true });
      // Woken as the waiting room wakes it: a fair waiter by the release that names it first in line.
      const listener = { ...who, fair: call.fair, shared: call.mode === 'read', heard: () => done('woken') };
      const unhear = wakeUps ? this.holds.onRelease(resources, listener) : undefined;
      call.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private lockContext(): MemoryLockContext {
    const { clock, driftFactor } = this.settings;
    // As the real engine: telemetry only for locks made while someone listens.
    const telemetry: Pick<MemoryLockContext, 'onExtendSettled' | 'onReleaseSettled'> = {};
    if (this.listenerCount('extendSettled') > 0) telemetry.onExtendSettled = (report) => this.report('extendSettled', report);
    if (this.listenerCount('releaseSettled') > 0) telemetry.onReleaseSettled = (report) => this.report('releaseSettled', report);
    return {
      ...telemetry,
      clock,
      driftFactor,
      extendHold: (lock, ttl) => {
        const hold = this.holdOf.get(lock)!;
        const quorum = this.nodes.quorumFor(lock.limit);
        const { up } = this.nodes;
        const down = this.nodes.size - up;
        const failed = this.nodes.failuresBelow(quorum);
        if (failed) {
          // The nodes still up would extend it; too few of them.
          const yes = this.holds.owns(lock.value, lock.resources, hold) ? up : 0;
          const parts = [`only ${yes} of ${this.nodes.size} nodes extended it (${quorum} needed)`];
          if (up - yes > 0) parts.push(`${up - yes} no longer hold our token`);
          parts.push(`${failed.length} failed: ${describeNodeErrors(failed)}`);
          return { votes: { yes, no: up - yes, errors: down }, failure: parts.join(', ') };
        }
        if (this.holds.extend(lock.value, lock.resources, hold, ttl)) return { votes: { yes: up, no: 0, errors: down } };
        const parts = [`only 0 of ${this.nodes.size} nodes extended it (${quorum} needed)`, `${up} no longer hold our token`];
        if (down > 0) parts.push(`${down} failed: ${describeNodeErrors(this.nodes.errors())}`);
        return { votes: { yes: 0, no: up, errors: down }, failure: parts.join(', ') };
      },
      giveHold: (lock) => {
        const hold = this.holdOf.get(lock)!;
        const quorum = this.nodes.quorumFor(lock.limit);
        const { up } = this.nodes;
        const down = this.nodes.size - up;
        if (up < quorum) {
          // The nodes that are down keep the hold: it lingers until its lease ends, as on real nodes.
          const yes = this.holds.owns(lock.value, lock.resources, hold) ? up : 0;
          return { result: { released: false, nodes: yes }, votes: { yes, no: up - yes, errors: down } };
        }
        const freed = this.holds.give(lock.value, lock.resources, hold, this.fairLocks.has(lock)) === lock.resources.length;
        const result: ReleaseResult = freed ? { released: true, nodes: up } : { released: false, nodes: 0 };
        return { result, votes: { yes: result.nodes, no: up - result.nodes, errors: down } };
      },
      onLost: (lock, error) => {
        this.held.delete(lock);
        this.emit('lockLost', { resources: lock.resources, error });
      },
      onReleased: (lock, result) => {
        this.held.delete(lock);
        if (!result.released) this.emit('releaseIncomplete', { resources: lock.resources, result });
      },
    };
  }
}

/** The resource is held as another kind of lock: a programming error, as in the real engine. */
function kindMismatch(resources: readonly string[], limit: number | undefined, theirs: string): RedlockConfigError {
  const kindOf = (k: string) => (k === 'read' ? 'read locks' : `a semaphore with limit ${k}`);
  const ours = limit === undefined ? 'a read lock' : `a semaphore with limit ${limit}`;
  return new RedlockConfigError('limit', `${resources.join(', ')} is held as ${kindOf(theirs)}, but this call asks for ${ours}`);
}
