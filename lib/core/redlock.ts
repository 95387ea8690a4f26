import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { leaseDeadline, sleep } from './clock.js';
import { openConnection, validateNodeSpecs } from './connections.js';
import type { NodeSpec, OpenedConnection } from './connections.js';
import { LockAbortedError, LockBusyError, QuorumUnavailableError, RedlockConfigError } from './errors.js';
import type { LockLostError, NodeError } from './errors.js';
import { AmnesiaGuard } from './amnesia-guard.js';
import type { NodeOutInfo } from './amnesia-guard.js';
import { IoredisNode } from './ioredis-node.js';
import type { RedisConnection } from './ioredis-node.js';
import { LockHandle } from './lock.js';
import type { Lock, LockContext, ReleaseResult } from './lock.js';
import { NodeSet } from './node-set.js';
import { resolveCallSettings, resolveEngineSettings, resolveResources } from './options.js';
import type { AcquireOptions, CallSettings, EngineSettings, RedlockOptions } from './options.js';
import { quorumReturnsIn, verdictOf } from './quorum.js';
import { bootSentinel } from './scripts.js';
import type { RoundOutcome } from './quorum.js';

/** Events a Redlock instance emits; none is called 'error', so none can crash the process. */
export interface RedlockEvents {
  /** A node's connection failed; emitted once per outage, not per command. */
  nodeDown: [info: { node: number; address: string; error?: Error }];
  nodeUp: [info: { node: number; address: string }];
  /**
   * Rule 15: a node's acquire votes stop counting (it restarted or lost its data, or it cannot
   * yet be told from a fresh node); emitted once per episode, with when it counts again if known.
   */
  nodeOut: [info: NodeOutInfo];
  /** A held lock was lost (failed extension, or validity ran out without one). */
  lockLost: [info: { resources: readonly string[]; error: LockLostError }];
  /** A release did not reach a quorum (the lock may linger until its ttl ends). */
  releaseIncomplete: [info: { resources: readonly string[]; result: ReleaseResult }];
}

/** Bytes of the owner token (rule 1: at least 128 bits from a CSPRNG). */
const TOKEN_BYTES = 16;

/**
 * Redlock over N independent Redis masters. Framework-free: any Node program can use it.
 */
export class Redlock extends EventEmitter<RedlockEvents> {
  private readonly settings: EngineSettings;
  private readonly connections: OpenedConnection[];
  private readonly ioredisNodes: IoredisNode[];
  private readonly nodeSet: NodeSet;
  private readonly held = new Set<LockHandle>();
  private closing: Promise<void> | undefined;
  /** The longest lease this instance has asked for: a node that lost its data stays out at least that long. */
  private largestTtl: number;
  private readonly amnesia: AmnesiaGuard;
  /** Every node connected or failed once (bounded): see IoredisNode.firstContact. */
  private readonly firstContact: Promise<unknown>;

  constructor(nodes: readonly NodeSpec[], options?: RedlockOptions) {
    super();
    const specs = validateNodeSpecs(nodes);
    this.settings = resolveEngineSettings(options);
    this.largestTtl = this.settings.ttl;
    const { restartGuard, clock, keyPrefix } = this.settings;
    this.amnesia = new AmnesiaGuard({
      keyPrefix,
      clock,
      restartGuard,
      ownLargestLease: () => this.largestTtl,
      onNodeOut: (info) => this.emit('nodeOut', info),
    });
    const boot = { sentinel: bootSentinel(keyPrefix), keys: this.amnesia.keys.slice(0, 2), window: () => this.amnesia.window() };
    this.connections = specs.map((spec) => openConnection(spec));
    this.ioredisNodes = this.connections.map(
      (c, index) =>
        new IoredisNode(index, c.address, c.client, boot, (node, health, error) => {
          if (health === 'down') this.emit('nodeDown', { node: node.index, address: node.address, error });
          else this.emit('nodeUp', { node: node.index, address: node.address });
        }),
    );
    this.nodeSet = new NodeSet(this.ioredisNodes, clock, this.amnesia);
    this.firstContact = Promise.all(this.ioredisNodes.map((node) => node.firstContact));
  }

  /** The configured key prefix (every key the library touches starts with it). */
  get keyPrefix(): string {
    return this.settings.keyPrefix;
  }

  /** The ioredis clients, in configured order (for health checks). */
  get clients(): readonly Redis[] {
    return this.connections.map((c) => c.client as Redis);
  }

  /** Waits up to `wait` ms; rejects with LockBusyError, QuorumUnavailableError or LockAbortedError. */
  async acquire(resources: string | readonly string[], options?: AcquireOptions): Promise<Lock> {
    const names = resolveResources(resources);
    const call = resolveCallSettings(this.settings, options);
    const lock = (await this.acquireLock(names, call, false)) as LockHandle;
    if (call.autoExtend === true) lock.startAutoExtension();
    return lock;
  }

  /** One attempt: the lock, or null when it is busy. Still rejects when the nodes are unavailable. */
  async tryAcquire(resources: string | readonly string[], options?: AcquireOptions): Promise<Lock | null> {
    const names = resolveResources(resources);
    const call = resolveCallSettings(this.settings, options);
    const lock = await this.acquireLock(names, call, true);
    if (lock && call.autoExtend === true) lock.startAutoExtension();
    return lock;
  }

  /**
   * Acquire, run `routine(lock)` while the lock is kept alive, release, and return the routine's
   * result. Rule 14: the routine's result or error comes back unchanged; a release problem
   * never replaces it.
   */
  async using<T>(
    resources: string | readonly string[],
    routine: (lock: Lock) => T | Promise<T>,
    options?: AcquireOptions,
  ): Promise<T> {
    const names = resolveResources(resources);
    if (typeof routine !== 'function') {
      throw new RedlockConfigError('routine', 'must be a function (lock) => result');
    }
    const call = resolveCallSettings(this.settings, options);
    const lock = (await this.acquireLock(names, call, false)) as LockHandle;
    if (call.autoExtend !== false) lock.startAutoExtension();
    try {
      return await routine(lock);
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  /**
   * Stop every timer, release every lock this instance holds, and close the connections it
   * created itself (never the clients the caller passed in). Safe to call twice.
   */
  quit(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    await Promise.all([...this.held].map((lock) => lock.release()));
    for (const node of this.ioredisNodes) node.dispose();
    await Promise.all(this.connections.filter((c) => c.owned).map(({ client }) => closeConnection(client)));
  }

  private async acquireLock(resources: readonly string[], call: CallSettings, once: boolean): Promise<LockHandle | null> {
    if (this.closing) {
      throw new QuorumUnavailableError('this Redlock instance has been quit', []);
    }
    await this.firstContact;
    const { clock, keyPrefix, driftFactor } = this.settings;
    this.largestTtl = Math.max(this.largestTtl, call.ttl);
    const keys = resources.map((r) => keyPrefix + r);
    // Rule 1: one fresh token per acquire call, kept across its retries.
    const token = randomBytes(TOKEN_BYTES).toString('hex');
    const startedAt = clock.now();
    const giveUpAt = startedAt + (once ? 0 : call.wait);
    let attempts = 0;
    let lastFailure: { kind: 'busy' | 'late'; outcome: RoundOutcome } | undefined;

    for (;;) {
      if (call.signal?.aborted) throw new LockAbortedError(resources, call.signal.reason);
      attempts += 1;
      // Rule 5: t0 before the first write, on the monotonic clock.
      const roundStart = clock.now();
      const outcome = await this.nodeSet.acquire(keys, token, call.ttl, call.nodeTimeout);
      const validUntil = leaseDeadline(roundStart, call.ttl, driftFactor);
      const verdict = verdictOf(outcome, this.nodeSet.size);

      // Rule 6: a quorum AND time left; rule 8: errors elsewhere do not fail a won round.
      if (verdict === 'won' && validUntil > clock.now()) {
        const lock = new LockHandle(this.lockContext(call), { resources, keys, value: token, ttl: call.ttl, validUntil });
        if (call.signal?.aborted) {
          await lock.release();
          throw new LockAbortedError(resources, call.signal.reason);
        }
        this.held.add(lock);
        return lock;
      }

      // Rule 7: clean up on all N before anything else; not tied to the caller's signal.
      await this.nodeSet.release(keys, token, call.nodeTimeout);

      if (verdict === 'unavailable') {
        throw new QuorumUnavailableError(
          unavailableMessage(resources, outcome, this.nodeSet.size),
          outcome.errors,
          quorumReturnsIn(outcome, this.nodeSet.size),
        );
      }
      lastFailure = { kind: verdict === 'busy' ? 'busy' : 'late', outcome };

      // Rule 9: jittered pauses, bounded by the total wait.
      const left = giveUpAt - clock.now();
      if (left <= 0) break;
      const pause = Math.min(left, call.retryDelay + Math.random() * call.retryJitter);
      if (!(await sleep(clock, pause, call.signal))) throw new LockAbortedError(resources, call.signal?.reason);
    }

    if (lastFailure.kind === 'late') {
      throw new QuorumUnavailableError(
        `a quorum granted the lock on ${resources.join(', ')} too late to leave any validity (nodes answered too slowly)`,
        lastFailure.outcome.errors,
      );
    }
    if (once) return null;
    throw new LockBusyError(resources, attempts, clock.now() - startedAt);
  }

  private lockContext(call: CallSettings): LockContext {
    return {
      nodeSet: this.nodeSet,
      clock: this.settings.clock,
      driftFactor: this.settings.driftFactor,
      nodeTimeout: call.nodeTimeout,
      onExtend: (ttl) => {
        this.largestTtl = Math.max(this.largestTtl, ttl);
      },
      onLost: (lock, error) => {
        // A lost lock is no longer held: quit() need not release it, and a lock that is simply
        // left to expire must not stay in this set (and in memory) for the life of the process.
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

/** QUIT politely, bounded in time (a dead node cannot answer), then make sure the socket is gone. */
async function closeConnection(client: RedisConnection): Promise<void> {
  if (client.status === 'end') return;
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  // QUIT on a client that is not connected never resolves: only a ready one can say goodbye.
  if (client.status === 'ready') await within(client.quit().catch(() => undefined), 1_000);
  if ((client.status as string) !== 'end') client.disconnect(); // quit() may have ended it meanwhile
  await within(ended, 1_000);
}

/** Waits for `promise` at most `ms`; the bound's timer is cleared either way, so quit() leaves none behind. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}

function unavailableMessage(resources: readonly string[], outcome: RoundOutcome, nodeCount: number): string {
  const failed = outcome.errors.map((e: NodeError) => `#${e.node} ${e.address}: ${e.message}`).join('; ');
  return `cannot lock ${resources.join(', ')}: ${outcome.errors.length} of ${nodeCount} nodes failed (${failed})`;
}
