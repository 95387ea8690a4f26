import type { Cluster, Redis } from 'ioredis';
import { ClusterKeyMap } from './cluster-keys.js';
import { SlotRestarted } from './guard-scripts.js';
import { HASH_SLOTS } from './hash-slots.js';
import type { LockNode, SlottedVoter } from './lock-node.js';
import type { LockScript } from './lock-script.js';
import type { ScriptBatch } from './script-batch.js';
import { TurnQueue } from './turn-queue.js';

export type RedisConnection = Redis | Cluster;

export type NodeHealth = 'up' | 'down';

const FIRST_CONTACT_MS = 2_000;

/** Slots of a Cluster voter marked at once when a fresh deployment is marked (ioredisNode.runInEverySlot). */
const MARK_BATCH = 64;

/** Calls in a row that a node left unanswered before it counts as down (and is no longer waited on). */
const UNRESPONSIVE_AFTER_TIMEOUTS = 3;

function firstContactOf(client: RedisConnection): Promise<void> {
  const status = (client as Redis).status;
  // 'wait' = lazyConnect: the first command connects it. Ready or ended: nothing to wait for.
  if (status === 'ready' || status === 'wait' || status === 'end') return Promise.resolve();
  return new Promise((resolve) => {
    const settle = () => {
      clearTimeout(timer);
      client.off('ready', settle);
      client.off('error', settle);
      client.off('end', settle);
      resolve();
    };
    const timer = setTimeout(settle, FIRST_CONTACT_MS);
    timer.unref();
    client.once('ready', settle);
    client.once('error', settle);
    client.once('end', settle);
  });
}

/** Rule 15: how a node that answers NOSCRIPT asks the boot sentinel (guard-scripts.ts) whether its server is new. */
export interface BootCheck {
  readonly sentinel: LockScript;
  /** The node's marker, quarantine and generation keys. */
  readonly keys: readonly string[];
  /** A new generation id, for a node found restarted. */
  readonly newGeneration: () => string;
  /** The least time a restarted node stays out, ms (the sentinel uses the lease it recorded, if longer). */
  readonly window: () => number;
  /** For a Cluster voter: the key prefix and all four guard keys, as a plain node names them (cluster-keys.ts). */
  readonly keyPrefix: string;
  readonly guardKeys: readonly string[];
  /** For a Cluster voter: the boot sentinel of one hash slot (guard-scripts.ts). */
  readonly slotSentinel: (slot: number) => LockScript;
}

/** ioredis takes a command's arguments as arrays too (it flattens them), which its types do not say. */
interface ArrayArguments {
  evalsha(sha: string, numKeys: number, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
}

/** Whether a client is an ioredis Cluster (one voter made of shards). */
export function isClusterClient(client: RedisConnection): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/**
 * A LockNode over an ioredis client. Scripts go by EVALSHA and fall back to EVAL on NOSCRIPT,
 * so a node that restarted with an empty script cache recovers on the first call; before that
 * fallback the boot sentinel runs, so a new server process is quarantined before any of our
 * scripts runs on it (in band, so also behind a proxy that keeps our connection open).
 *
 * It also watches the connection, so a node going down is reported once (not once per
 * command) and calls fail at once while the client is reconnecting instead of queueing them.
 */
export class IoredisNode implements LockNode {
  private health: NodeHealth = 'up';
  private readonly detach: () => void;
  /** The boot check under way, shared by every call that met NOSCRIPT meanwhile. */
  private checkingBoot: Promise<void> | undefined;
  /** Rounds in a row that gave up on this node's reply. */
  private timeoutsInARow = 0;
  /** Connected but answering nothing (a SIGSTOPped or hung server): calls fail at once until it answers again. */
  private unresponsive = false;
  /**
   * Settles when the client first connected, failed, or after FIRST_CONTACT_MS: the first
   * acquire waits for it, so setting up a connection is not charged to the per-node timeout.
   */
  readonly firstContact: Promise<void>;
  /** A Cluster voter: how it lays out keys in slots (undefined for a plain node). */
  private readonly keyMap: ClusterKeyMap | undefined;
  /** A Cluster voter's hash slots, which rule 15 guards one by one (undefined for a plain node). */
  readonly slotted: SlottedVoter | undefined;
  /** A Cluster voter: the slot boot checks under way, by slot. */
  private readonly checkingSlots = new Map<number, Promise<number>>();
  /** A plain node: the calls of this turn, sent together on the next tick. */
  private readonly turn: TurnQueue;

  constructor(
    readonly index: number,
    readonly address: string,
    readonly client: RedisConnection,
    private readonly boot: BootCheck,
    private readonly onHealthChange: (node: IoredisNode, health: NodeHealth, error?: Error) => void,
    /** The scripts whose calls in one turn may share an EVALSHA (none: each call alone). */
    batch?: ScriptBatch,
  ) {
    // An ioredis client without an 'error' listener crashes the process when its node goes
    // down; our listener keeps the process alive and turns it into a health change.
    const onError = (error: Error) => this.setHealth('down', error);
    const onClose = () => this.setHealth('down');
    const onReady = () => this.setHealth('up');
    client.on('error', onError);
    client.on('close', onClose);
    client.on('ready', onReady);
    this.detach = () => {
      client.off('error', onError);
      client.off('close', onClose);
      client.off('ready', onReady);
    };
    this.firstContact = firstContactOf(client);
    this.turn = new TurnQueue(batch, (script, keys, args) => this.evalWithBootCheck(script, keys, args), () => (client as Redis).stream, boot.guardKeys);
    const keyMap = isClusterClient(client) ? new ClusterKeyMap(boot.keyPrefix, boot.guardKeys) : undefined;
    this.keyMap = keyMap;
    this.slotted = keyMap && {
      slotOf: (keys) => keyMap.map(keys).slot,
      runInEverySlot: (script, keys, args, first, onDone) => this.runInEverySlot(keyMap, script, keys, args, first, onDone),
    };
  }

  // Not async: the call's own promise goes back as it is (no extra promise to adopt on the hot path).
  run(script: LockScript, keys: readonly string[], args: readonly (string | number)[], mustReach = false): Promise<unknown> {
    const status = (this.client as Redis).status;
    if (status === 'reconnecting' || status === 'end' || status === 'close') {
      return Promise.reject(new Error(`node ${this.address} is not connected (${status})`));
    }
    if (this.keyMap) return this.runInSlot(script, this.keyMap.map(keys), keys, args);
    if (this.unresponsive) {
      // Behind whatever is stuck on the connection: an attempt that did reach the node is given up too.
      if (mustReach) this.client.evalsha(script.sha, keys.length, ...keys, ...args).catch(() => undefined);
      return Promise.reject(new Error(`node ${this.address} is not answering (${UNRESPONSIVE_AFTER_TIMEOUTS} calls in a row had no reply in time)`));
    }
    return this.turn.call(script, keys, args);
  }

  /** EVALSHA; on NOSCRIPT the boot check (rule 15), then EVAL. */
  private async evalWithBootCheck(script: LockScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      // ioredis flattens the two arrays into the command's arguments: no copy of our own.
      const reply = await (this.client as unknown as ArrayArguments).evalsha(script.sha, keys.length, keys, args);
      this.answered();
      return reply;
    } catch (error) {
      if (isReplyError(error)) this.answered();
      if (!isNoScript(error)) throw error;
      await this.checkBoot();
      return await this.client.eval(script.source, keys.length, ...keys, ...args);
    }
  }

  /**
   * A node that leaves call after call unanswered is reported down and not waited on again
   * until it answers: every round would otherwise pay the full node timeout for it. A PING stays
   * in flight meanwhile, so its answer (or any late reply) brings the node back.
   */
  noteTimeout(ms: number): void {
    // A Cluster's calls go to the shard of their slot: one hung shard must not fail the others' at once.
    if (this.keyMap) return;
    this.timeoutsInARow += 1;
    if (this.unresponsive || this.timeoutsInARow < UNRESPONSIVE_AFTER_TIMEOUTS) return;
    this.unresponsive = true;
    this.setHealth('down', new Error(`no reply within ${ms} ms, ${this.timeoutsInARow} calls in a row`));
    this.client.ping().then(
      () => this.answered(),
      () => this.answered(),
    );
  }

  private answered(): void {
    this.timeoutsInARow = 0;
    if (!this.unresponsive) return;
    this.unresponsive = false;
    // A failed connection reports itself through close / ready; only a live one is up again now.
    if ((this.client as Redis).status === 'ready') this.setHealth('up');
  }

  /** Stop listening to the client (the connection itself is closed, or not, by its owner). */
  dispose(): void {
    this.detach();
  }

  /** Rule 15: NOSCRIPT for the sentinel too means a new server process: it quarantines itself. */
  private checkBoot(): Promise<void> {
    this.checkingBoot ??= (async () => {
      const { sentinel, keys, window, newGeneration } = this.boot;
      try {
        await this.client.evalsha(sentinel.sha, keys.length, ...keys, '0', window(), '');
      } catch (error) {
        if (!isNoScript(error)) throw error;
        await this.client.eval(sentinel.source, keys.length, ...keys, '1', window(), newGeneration());
      }
    })().finally(() => {
      this.checkingBoot = undefined;
    });
    return this.checkingBoot;
  }

  /**
   * A call on a Cluster voter, every key in one slot. A call that reads the slot's standing (a
   * take: its keys hold the quarantine key) asks the slot's boot sentinel first, in the same
   * pipeline: a new server process (a restarted shard, a promoted replica) has an empty script
   * cache, and its slot must be quarantined before a vote from it counts, even when another
   * client already loaded our take script there. Other calls ask it on NOSCRIPT, as a plain node does.
   */
  private async runInSlot(script: LockScript, slotted: { keys: string[]; slot: number }, plainKeys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const { keys, slot } = slotted;
    const client = this.client as Cluster;
    if (!plainKeys.includes(this.boot.keys[1]!)) {
      try {
        return await client.evalsha(script.sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!isNoScript(error)) throw error;
        await this.checkSlotBoot(slot);
        return await client.eval(script.source, keys.length, ...keys, ...args);
      }
    }
    const sentinel = this.boot.slotSentinel(slot);
    const sentinelKeys = this.slotGuardKeys(slot);
    const replies = await client
      .pipeline()
      .evalsha(sentinel.sha, sentinelKeys.length, ...sentinelKeys, '0', this.boot.window(), '')
      .evalsha(script.sha, keys.length, ...keys, ...args)
      .exec();
    if (!replies || replies.length !== 2) throw new Error(`node ${this.address} answered a pipeline of 2 with ${replies?.length ?? 'nothing'}`);
    const [[probeError], [error, reply]] = replies as [[Error | null, unknown], [Error | null, unknown]];
    if (probeError) {
      if (!isNoScript(probeError)) throw probeError;
      const window = await this.checkSlotBoot(slot);
      if (window > 0) throw new SlotRestarted(slot, window);
    }
    if (!error) return reply;
    if (!isNoScript(error)) throw error;
    return await client.eval(script.source, keys.length, ...keys, ...args);
  }

  /**
   * Rule 15 for one slot of a Cluster voter, as checkBoot for a node: NOSCRIPT for the slot's
   * sentinel means no client ran it on this server process, which then quarantines the slot if
   * it kept a marker. Resolves how long the slot stays out (0: not quarantined by this check).
   */
  private checkSlotBoot(slot: number): Promise<number> {
    let checking = this.checkingSlots.get(slot);
    if (checking) return checking;
    const client = this.client as Cluster;
    const sentinel = this.boot.slotSentinel(slot);
    const keys = this.slotGuardKeys(slot);
    checking = (async () => {
      try {
        await client.evalsha(sentinel.sha, keys.length, ...keys, '0', this.boot.window(), '');
        return 0;
      } catch (error) {
        if (!isNoScript(error)) throw error;
        return Number(await client.eval(sentinel.source, keys.length, ...keys, '1', this.boot.window(), this.boot.newGeneration()));
      }
    })().finally(() => this.checkingSlots.delete(slot));
    this.checkingSlots.set(slot, checking);
    return checking;
  }

  /** The marker, quarantine and generation keys of one slot (the boot sentinel's keys). */
  private slotGuardKeys(slot: number): string[] {
    return this.keyMap!.map(this.boot.keys, slot).keys;
  }

  /**
   * A Cluster voter: run a guard script once in every hash slot (marking a fresh deployment,
   * amnesia-guard.ts), each slot's boot sentinel first so that the marks are never taken for
   * data a new process restored. Thousands of calls, sent without waiting for each other (ioredis
   * writes them out back to back on each shard's connection), `first` ahead of them; once per deployment.
   */
  private runInEverySlot(
    slots: ClusterKeyMap,
    script: LockScript,
    keys: readonly string[],
    args: readonly (string | number)[],
    first?: number,
    onDone?: (slot: number) => void,
  ): { all: Promise<void>; slot(slot: number): Promise<void> } {
    const client = this.client as Cluster;
    const markSlot = async (slot: number) => {
      await this.checkSlotBoot(slot);
      const slotKeys = slots.map(keys, slot).keys;
      try {
        await client.evalsha(script.sha, slotKeys.length, ...slotKeys, ...args);
      } catch (error) {
        if (!isNoScript(error)) throw error;
        await client.eval(script.source, slotKeys.length, ...slotKeys, ...args);
      }
      onDone?.(slot);
    };
    // Slots are marked in batches, so that a slot some round waits for can go ahead of the queue.
    const marked = new Array<Promise<void> | undefined>(HASH_SLOTS).fill(undefined);
    const start = (slot: number) => (marked[slot] ??= markSlot(slot));
    const all = (async () => {
      if (first !== undefined) await start(first);
      for (let from = 0; from < HASH_SLOTS; from += MARK_BATCH) {
        await Promise.all(Array.from({ length: Math.min(MARK_BATCH, HASH_SLOTS - from) }, (_, i) => start(from + i)));
      }
    })();
    all.catch(() => undefined); // each slot's own promise reports to whoever waits on it
    return { all, slot: start };
  }

  private setHealth(health: NodeHealth, error?: Error): void {
    if (this.health === health) return;
    this.health = health;
    this.onHealthChange(this, health, error);
  }
}

/** An error the server itself sent (it is answering), as opposed to a connection failure. */
function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
