import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { attemptLock } from './engine/attempts.js';
import { FenceBook } from './engine/fencing.js';
import type { LockContext, LockHandle, Lock, ReleaseResult } from './engine/held-lease.js';
import { NodeSet } from './engine/node-set.js';
import type { RoundOutcome } from './engine/round.js';
import { acquireReported, reportSafely } from './engine/reports.js';
import type { AcquireReport, ExtendReport, ReleaseReport, ReportEvents, ReportSink } from './engine/reports.js';
import { describeNodeErrors, quorumOf } from './engine/verdict.js';
import { LOCK_CALL_BATCH } from './primitives/batched-scripts.js';
import { HELD_PROBE, heldProbeKeys } from './primitives/held-probe.js';
import { QuorumUnavailableError, RedlockConfigError, show } from './errors.js';
import type { LockLostError } from './errors.js';
import { AmnesiaGuard, newGeneration } from './nodes/amnesia-guard.js';
import type { NodeOutInfo } from './nodes/amnesia-guard.js';
import { closeConnection, isRedisConnection, openConnection, validateNodeSpecs } from './nodes/connections.js';
import type { NodeSpec, OpenedConnection } from './nodes/connections.js';
import { ClusterKeyMap, CrossSlotKeys } from './nodes/cluster-keys.js';
import { bootSentinel, slotBootSentinel } from './nodes/guard-scripts.js';
import { IoredisNode, isClusterClient } from './nodes/ioredis-node.js';
import type { BootCheck } from './nodes/ioredis-node.js';
import type { LockScript } from './nodes/lock-script.js';
import { NodeSubscriber } from './nodes/node-subscriber.js';
import { WaitingRoom } from './engine/waiting-room.js';
import { defaultNodeTimeout, resolveCallSettings, resolveEngineSettings, resolveResources } from './options.js';
import type { AcquireOptions, CallSettings, EngineSettings, RedlockOptions } from './options.js';
import { primitiveFor } from './primitives/choose.js';

/**
 * The first acquire waits until a quorum of nodes has connected (or failed) once, not every
 * node: a node that is hung or far away must not hold the first lock hostage; the lock needs
 * only a quorum anyway, and the late node's vote counts once it is there.
 */
function firstContactOfQuorum(contacts: readonly Promise<unknown>[]): Promise<void> {
  const needed = quorumOf(contacts.length);
  let settled = 0;
  return new Promise((resolve) => {
    for (const contact of contacts) {
      void contact.then(() => {
        settled += 1;
        if (settled === needed) resolve();
      });
    }
  });
}

/**
 * The key layout of the Cluster voters, if any. Their hash tags decide where keys go, so the
 * prefix must not bring one of its own: it would put every lock in one slot (one shard does all
 * the work), and a lone brace would make the tags ours no longer. Nor may the Cluster client
 * prefix keys itself (ioredis `keyPrefix`): the slots computed here would not be the server's.
 */
function clusterKeysOf(specs: readonly NodeSpec[], keyPrefix: string, guardKeys: readonly string[]): ClusterKeyMap | undefined {
  const clusters = specs.flatMap((spec, index) => (isRedisConnection(spec) && isClusterClient(spec) ? [{ spec, index }] : []));
  if (clusters.length === 0) return undefined;
  if (/[{}]/.test(keyPrefix)) {
    throw new RedlockConfigError('keyPrefix', `must not contain "{" or "}" when a node is a Redis Cluster (the library puts each resource's keys in the resource's hash slot itself), got ${show(keyPrefix)}`);
  }
  for (const { spec, index } of clusters) {
    if ((spec.options as { keyPrefix?: string }).keyPrefix) {
      throw new RedlockConfigError(`nodes[${index}]`, 'is an ioredis Cluster with its own keyPrefix: give the prefix to Redlock (keyPrefix) instead, so that each lock\'s keys are laid out in one hash slot');
    }
  }
  return new ClusterKeyMap(keyPrefix, guardKeys);
}

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
  /**
   * Telemetry (instrumentRedlock in nestjs-redlock/opentelemetry, or your own): an acquire,
   * tryAcquire or using call settled, an extension settled, a release settled. Reported only for
   * calls and locks made while someone listens; with no listener nothing is measured.
   */
  acquireSettled: [report: AcquireReport];
  extendSettled: [report: ExtendReport];
  releaseSettled: [report: ReleaseReport];
}

/**
 * Redlock over N independent Redis masters, for every kind of lock (mutex, read/write,
 * semaphore, fenced): the façade over settings, nodes, held locks and events. The engine
 * (engine/) does the work; a primitive (primitives/) says what differs. Framework-free.
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
  /** A quorum of nodes connected or failed once (bounded): see IoredisNode.firstContact. */
  private readonly firstContact: Promise<unknown>;
  private readonly fences = new FenceBook();
  /** Wake-ups: one pub/sub connection per node (none with wakeUps: false), opened by the first waiter. */
  private readonly subscribers: readonly NodeSubscriber[];
  private readonly waitingRoom: WaitingRoom;
  /** Some voter is a Redis Cluster: a lock's resources must share a hash slot (cluster-keys.ts). */
  private readonly clusterKeys: ClusterKeyMap | undefined;

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
    const [marker, quarantine, , generation] = this.amnesia.keys;
    const slotSentinels = new Map<number, LockScript>();
    const boot: BootCheck = {
      sentinel: bootSentinel(keyPrefix),
      keys: [marker, quarantine, generation],
      window: () => this.amnesia.window(),
      newGeneration,
      keyPrefix,
      guardKeys: this.amnesia.keys,
      slotSentinel: (slot) => {
        let sentinel = slotSentinels.get(slot);
        if (!sentinel) slotSentinels.set(slot, (sentinel = slotBootSentinel(keyPrefix, slot)));
        return sentinel;
      },
    };
    // Before any connection opens: a refused prefix must leave nothing behind.
    this.clusterKeys = clusterKeysOf(specs, keyPrefix, this.amnesia.keys);
    this.connections = specs.map((spec) => openConnection(spec));
    this.ioredisNodes = this.connections.map(
      (c, index) =>
        new IoredisNode(
          index,
          c.address,
          c.client,
          boot,
          (node, health, error) => {
            if (health === 'down') this.emit('nodeDown', { node: node.index, address: node.address, error });
            else this.emit('nodeUp', { node: node.index, address: node.address });
          },
          LOCK_CALL_BATCH,
        ),
    );
    this.nodeSet = new NodeSet(this.ioredisNodes, clock, this.amnesia, this.settings.wakeUps, (channels, releaser) => this.waitingRoom.releasedHere(channels, releaser));
    this.subscribers = this.settings.wakeUps
      ? this.connections.map((c, index) => new NodeSubscriber(index, c.client, (node, channel, message) => this.waitingRoom.heard(node, channel, message)))
      : [];
    this.waitingRoom = new WaitingRoom(clock, specs.length, this.subscribers);
    this.firstContact = firstContactOfQuorum(this.ioredisNodes.map((node) => node.firstContact));
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
   * Whether the resource is held right now, in any mode (a write lock, readers, semaphore
   * permits): true when a majority of the nodes say so, false when a majority say it is free.
   * A quorum read and a snapshot: the answer may change the moment after; to act on it, take the
   * lock. Rejects with QuorumUnavailableError when too few nodes answer.
   */
  async isLocked(resource: string): Promise<boolean> {
    if (typeof resource !== 'string') throw new RedlockConfigError('resource', `must be a non-empty string, got ${show(resource)}`);
    const [name] = resolveResources(resource, 'resource');
    if (this.closing) throw new QuorumUnavailableError('this Redlock instance has been quit', []);
    await this.firstContact;
    const { keyPrefix, ttl, nodeTimeout } = this.settings;
    const outcome = await this.nodeSet.probe(HELD_PROBE, heldProbeKeys(keyPrefix, name!), nodeTimeout ?? defaultNodeTimeout(ttl));
    if (outcome.yes < outcome.quorum && outcome.no < outcome.quorum) {
      throw new QuorumUnavailableError(
        `cannot tell whether ${name} is locked: ${outcome.errors.length} of ${this.nodeSet.size} nodes failed (${describeNodeErrors(outcome.errors)})`,
        outcome.errors,
      );
    }
    return outcome.yes >= outcome.quorum;
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
    await Promise.all(this.subscribers.map((subscriber) => subscriber.close()));
    await Promise.all(this.connections.filter((c) => c.owned).map(({ client }) => closeConnection(client)));
  }

  private acquireLock(resources: readonly string[], call: CallSettings, once: boolean): Promise<LockHandle | null> {
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

  private async takeLock(
    resources: readonly string[],
    call: CallSettings,
    once: boolean,
    onRound?: (outcome: RoundOutcome<unknown>) => void,
  ): Promise<LockHandle | null> {
    if (this.closing) {
      throw new QuorumUnavailableError('this Redlock instance has been quit', []);
    }
    this.checkOneSlot(resources);
    await this.firstContact;
    this.largestTtl = Math.max(this.largestTtl, call.ttl);
    const { clock, keyPrefix, driftFactor } = this.settings;
    const lock = await attemptLock(
      { nodeSet: this.nodeSet, clock, keyPrefix, driftFactor, fences: this.fences, waitingRoom: this.waitingRoom, lockContext: (c) => this.lockContext(c), onRound },
      { primitive: primitiveFor(call), fenced: call.fenced, fair: call.fair, resources, call, once },
    );
    if (lock) this.held.add(lock);
    return lock;
  }

  /**
   * On a Cluster voter every script runs in one hash slot, so a lock over several resources needs
   * them in one slot: resources that share a `{hash tag}` (Redis's own rule), as for MULTI. Refused
   * before any round, as a programming error.
   */
  private checkOneSlot(resources: readonly string[]): void {
    if (!this.clusterKeys || resources.length < 2) return;
    try {
      this.clusterKeys.slotOfResources(resources);
    } catch (error) {
      if (!(error instanceof CrossSlotKeys)) throw error;
      throw new RedlockConfigError(
        'resources',
        `${resources.join(', ')} fall in different hash slots (${error.slots.join(', ')}) of the Redis Cluster nodes; a lock over several resources needs them in one slot: give them a common {hash tag}, e.g. {order:42}:items and {order:42}:payment`,
      );
    }
  }

  private lockContext(call: CallSettings): LockContext {
    const telemetry: Pick<LockContext, 'onExtendSettled' | 'onReleaseSettled'> = {};
    if (this.listenerCount('extendSettled') > 0) telemetry.onExtendSettled = (report) => this.report('extendSettled', report);
    if (this.listenerCount('releaseSettled') > 0) telemetry.onReleaseSettled = (report) => this.report('releaseSettled', report);
    return {
      ...telemetry,
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
