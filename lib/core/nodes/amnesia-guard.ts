import { randomBytes } from 'node:crypto';
import type { Clock } from '../time/clock.js';
import { SEAL } from './guard-scripts.js';
import { HASH_SLOTS } from './hash-slots.js';
import type { LockNode } from './lock-node.js';
import type { NodeStanding } from './node-standing.js';
import { libraryKey } from './reserved-keys.js';
import { RoundCensus } from './round-census.js';

/**
 * How long a fresh deployment counts as being born after a client marked it: other clients that
 * meet a node not yet marked meanwhile let it sit out instead of quarantining it. Far longer
 * than marking takes (one round trip to each node, in parallel, bounded by the node timeout).
 */
export const BIRTH_MS = 1_000;

/**
 * How long after a birth was last seen a slot of a Cluster voter without its marker may simply
 * not be marked yet: marking every slot of a Cluster voter takes seconds (16384 of them, 1-2 s
 * for a cluster of 3 masters, 11 s seen on a loaded machine), far more than BIRTH_MS. Such a
 * slot sits out (its vote never counts unmarked) instead of being quarantined as amnesiac.
 */
export const SLOT_MARKING_MS = 30_000;

/** A node's vote does not count: it sits out of the quorum (rule 15). */
export class NodeOutOfQuorum extends Error {
  constructor(
    message: string,
    /** When its votes count again, ms from now, if known. */
    readonly countsAgainInMs: number | undefined,
  ) {
    super(message);
    this.name = 'NodeOutOfQuorum';
  }
}

export interface NodeOutInfo {
  readonly node: number;
  readonly address: string;
  /** A Cluster voter: the hash slot that sits out (the voter's other slots still count). */
  readonly slot?: number;
  readonly reason: string;
  /** ms until its votes count again, when known. */
  readonly countsAgainInMs: number | undefined;
}

export interface AmnesiaGuardSettings {
  readonly keyPrefix: string;
  readonly clock: Clock;
  /** 'largest-ttl', a least window in ms, or 0 = off. */
  readonly restartGuard: 'largest-ttl' | number;
  /** The longest lease this client has asked for. */
  readonly ownLargestLease: () => number;
  /** Called once when a node starts sitting out (not again until it counted once more). */
  readonly onNodeOut: (info: NodeOutInfo) => void;
}

/**
 * Rule 15, enforced by the client: a node that lost acknowledged lock writes must not count
 * towards an acquire quorum until the largest lease has passed since the loss was seen.
 *
 * Evidence, all read in band by the acquire script itself (no INFO, no CONFIG, no extra round
 * trip while nothing is wrong):
 * - every node keeps a **marker** (no expiry) once it served this deployment, recording the
 *   largest lease asked of it. A node without one, while another node has one (or this client
 *   saw it have one), lost its data: FLUSHALL, a restart without persistence, a new disk, a
 *   failover to an empty replica. It is sealed: marker back, and a **quarantine** key that
 *   keeps its votes out for the largest lease, on the node's own clock, for every client;
 * - a new server process is told by the boot sentinel (guard-scripts.ts), which quarantines a node
 *   that kept its marker but may have lost writes since its last save (RDB, everysec, a
 *   lagging replica);
 * - when every node answers and none has a marker, the deployment is fresh: every node is
 *   marked before any of their votes counts, and they count at once. For a moment (BIRTH_MS),
 *   the marked nodes tell other clients that the others may simply not be marked yet.
 */
export class AmnesiaGuard {
  /**
   * [marker, quarantine, birth, generation]: per node, under the key prefix. The generation
   * changes whenever the node is found to have lost data (here) or to have restarted (the boot
   * sentinel), so fence values written before may be told from ones written since.
   */
  readonly keys: readonly [string, string, string, string];
  /** Nodes (or, on a Cluster voter, slots of a node) currently known to sit out, to report each episode once. */
  private readonly out = new Set<string>();
  /** This client saw a node of this deployment with a marker: a node without one is amnesiac, not fresh. */
  private deploymentServed = false;
  private largestLeaseSeen = 0;
  /** Until when (this client's clock) the deployment is being born: its nodes may still be unmarked. */
  private bornUntil = Number.NEGATIVE_INFINITY;
  /** Until when a Cluster voter's unmarked slot may still be being marked (SLOT_MARKING_MS after the last birth seen). */
  private slotsBornUntil = Number.NEGATIVE_INFINITY;
  /** Acquire rounds started so far. */
  private rounds = 0;
  /** This client found the deployment fresh and is marking it (or did). */
  private freshSeal: FreshSeal | undefined;

  constructor(private readonly settings: AmnesiaGuardSettings) {
    const { keyPrefix } = settings;
    this.keys = [libraryKey(keyPrefix, 'marker'), libraryKey(keyPrefix, 'quarantine'), libraryKey(keyPrefix, 'birth'), libraryKey(keyPrefix, 'generation')];
  }

  get enabled(): boolean {
    return this.settings.restartGuard !== 0;
  }

  /** How long a node that lost its data stays out: the largest lease known to be in use. */
  window(): number {
    const { restartGuard, ownLargestLease } = this.settings;
    if (restartGuard === 0) return 0;
    const floor = restartGuard === 'largest-ttl' ? 0 : restartGuard;
    return Math.max(floor, ownLargestLease(), this.largestLeaseSeen);
  }

  /**
   * judge() for the reply of nearly every call, without waiting: true when the node is served
   * (its vote counts, nothing to wait for) or the guard is off; false when judge() must decide.
   */
  judgeServed(node: LockNode, standing: NodeStanding, keys: readonly string[]): boolean {
    if (!this.enabled) return true;
    if (standing.kind !== 'served') return false;
    this.noteServed(node.index, standing, node.slotted?.slotOf(keys));
    return true;
  }

  /**
   * Rejects with NodeOutOfQuorum when this node's acquire vote must not count. An unmarked node
   * waits for the round's census when this client knows nothing of the deployment yet.
   *
   * `keys`: the take's keys. On a Cluster voter the standing is its slot's (each slot has its
   * own guard keys: nodes/cluster-keys.ts), so is the seal, and so is the episode reported.
   */
  async judge(node: LockNode, standing: NodeStanding, census: RoundCensus, keys: readonly string[] = []): Promise<void> {
    if (!this.enabled) return;
    const slot = node.slotted?.slotOf(keys);
    if (standing.kind === 'served') {
      this.noteServed(node.index, standing, slot);
      return;
    }
    if (standing.kind === 'quarantined') {
      this.deploymentServed = true;
      throw this.sitOut(node, slot, standing.ms, 'it restarted or lost its data');
    }
    if (this.freshSeal === undefined && !this.deploymentServed) {
      const entries = await census.complete();
      entries.forEach((entry, index) => {
        if (typeof entry !== 'object') return;
        if (entry.kind === 'served') this.noteServed(index, entry, census.nodes[index]?.slotted?.slotOf(keys));
        if (entry.kind === 'quarantined') this.deploymentServed = true;
      });
      if (this.freshSeal === undefined && !this.deploymentServed) {
        if (!entries.every((e) => typeof e === 'object' && e.kind === 'unmarked')) {
          throw this.sitOut(node, slot, undefined, 'it has no marker and not every node answered, so a fresh node cannot be told from one that lost its data');
        }
        // A fresh deployment: every node answered and none ever served.
        this.freshSeal = this.markFresh(census.nodes, slot ?? census.nodes.find((n) => n.slotted)?.slotted?.slotOf(keys));
      }
    }
    // A reply that may have been read before our own fresh marking landed: fresh, once marked.
    // Per slot on a Cluster voter, whose marking takes seconds: a slot that was marked before
    // this round started and is unmarked now lost its data, even while other slots are still
    // being marked.
    const markedAt = this.freshSeal?.markedAtRound(node.index, slot);
    if (this.freshSeal !== undefined && (markedAt === undefined || census.round <= markedAt)) {
      // The round's slot on the Cluster voters, whichever kind this node is: a plain node's vote
      // waits for the voters to be marked in that slot, not in all 16384.
      const roundSlot = slot ?? census.nodes.find((n) => n.slotted)?.slotted?.slotOf(keys);
      if (await this.freshSeal.sealedIn(roundSlot)) return;
      throw this.sitOut(node, slot, undefined, 'marking the fresh deployment failed on some node');
    }
    if (this.settings.clock.now() < this.bornUntil || (slot !== undefined && this.settings.clock.now() < this.slotsBornUntil)) {
      // Another client is marking a fresh deployment: this node is probably next. It does not
      // count until it is marked, but it is not quarantined for what it may never have had.
      throw this.sitOut(node, slot, undefined, 'it has no marker yet while the deployment is being marked');
    }
    const window = this.window();
    // On a Cluster voter the take's first key routes the seal to the take's slot (SEAL ignores it).
    await node.run(SEAL, slot === undefined ? this.keys : [...this.keys, keys[0]!], [this.settings.ownLargestLease(), window, 0, newGeneration()]);
    throw this.sitOut(node, slot, window, 'it lost its data (its marker is gone)');
  }

  /** A census for the next acquire round (rounds are numbered to order them against marking). */
  census(nodes: readonly LockNode[], boundMs: number): RoundCensus {
    this.rounds += 1;
    return new RoundCensus(nodes, this.rounds, this.settings.clock, boundMs);
  }

  /**
   * Marks every node before any of their votes counts, so that a node without a marker is never
   * one whose vote already counted. Resolves whether every node was marked. A Cluster voter is
   * marked in every hash slot: a slot that later has no marker lost its data (its shard restarted
   * empty or failed over to an empty replica) even while the voter's other slots kept theirs.
   */
  private markFresh(nodes: readonly LockNode[], firstSlot: number | undefined): FreshSeal {
    const lease = this.settings.ownLargestLease();
    const args = [lease, 0, BIRTH_MS, ''];
    // The rounds started when each node (each slot of a Cluster voter) was marked.
    const markedAt = nodes.map((n) => (n.slotted ? new Float64Array(HASH_SLOTS).fill(Number.NaN) : [Number.NaN]));
    const marks = nodes.map((n, i) => {
      if (!n.slotted) {
        const whole = n.run(SEAL, this.keys, args).then(() => {
          markedAt[i]![0] = this.rounds;
        });
        return { all: whole, slot: () => whole };
      }
      return n.slotted.runInEverySlot(SEAL, this.keys, args, firstSlot, (slot) => {
        markedAt[i]![slot] = this.rounds;
      });
    });
    const everyOne = (promises: Promise<void>[]) => Promise.allSettled(promises).then((results) => results.every((r) => r.status === 'fulfilled'));
    const sealed = everyOne(marks.map((m) => m.all)).then((marked) => {
      if (marked) this.deploymentServed = true;
      return marked;
    });
    return {
      sealed,
      // The slot of the round that found the deployment fresh is marked first (a Cluster voter has 16384).
      sealedIn: (slot) => (slot === undefined ? sealed : everyOne(marks.map((m) => m.slot(slot)))),
      markedAtRound: (node, slot) => {
        const at = markedAt[node]?.[slot ?? 0];
        return at === undefined || Number.isNaN(at) ? undefined : at;
      },
    };
  }

  private noteServed(index: number, served: { readonly largestLease: number; readonly birthMs: number }, slot: number | undefined): void {
    this.out.delete(episodeOf(index, slot));
    this.deploymentServed = true;
    if (served.largestLease > this.largestLeaseSeen) this.largestLeaseSeen = served.largestLease;
    if (served.birthMs > 0) {
      this.bornUntil = Math.max(this.bornUntil, this.settings.clock.now() + served.birthMs);
      this.slotsBornUntil = Math.max(this.slotsBornUntil, this.settings.clock.now() + SLOT_MARKING_MS);
    }
  }

  private sitOut(node: LockNode, slot: number | undefined, countsAgainInMs: number | undefined, reason: string): NodeOutOfQuorum {
    const episode = episodeOf(node.index, slot);
    const where = slot === undefined ? '' : ` (hash slot ${slot})`;
    if (!this.out.has(episode)) {
      this.out.add(episode);
      this.settings.onNodeOut({ node: node.index, address: node.address, ...(slot === undefined ? {} : { slot }), reason: reason + where, countsAgainInMs });
    }
    const when = countsAgainInMs === undefined ? '' : `; its votes count again in ${Math.ceil(countsAgainInMs)} ms`;
    return new NodeOutOfQuorum(`node sits out of the quorum${where}: ${reason}${when}`, countsAgainInMs);
  }
}

function episodeOf(node: number, slot: number | undefined): string {
  return slot === undefined ? String(node) : `${node}/${slot}`;
}

/** This client found the deployment fresh and is marking it. */
interface FreshSeal {
  /** Whether every node was marked (in every slot, on a Cluster voter). */
  readonly sealed: Promise<boolean>;
  /** Whether every node was marked in this slot (a plain node: at all): a vote in that slot may count. */
  readonly sealedIn: (slot: number | undefined) => Promise<boolean>;
  /**
   * The rounds started when the node (in this slot, on a Cluster voter) was marked; undefined
   * while it is not. A round started until then may have read it before its mark landed.
   */
  readonly markedAtRound: (node: number, slot: number | undefined) => number | undefined;
}

/** A new generation id for a node found to have lost data ('r' = rotated; the first one is ''). */
export function newGeneration(): string {
  return `r${randomBytes(8).toString('hex')}`;
}
