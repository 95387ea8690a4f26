import type { AmnesiaGuard } from '../nodes/amnesia-guard.js';
import { SlotRestarted } from '../nodes/guard-scripts.js';
import type { NodeStanding } from '../nodes/node-standing.js';
import type { LockNode } from '../nodes/lock-node.js';
import type { LockScript } from '../nodes/lock-script.js';
import type { Primitive, PrimitiveKeys } from '../primitives/primitive.js';
import { takeReplyOf } from '../primitives/take-reply.js';
import { releaseName } from '../primitives/wake-up.js';
import type { TakeReply } from '../primitives/take-reply.js';
import type { Clock } from '../time/clock.js';
import { runRound } from './round.js';
import type { RoundOutcome, RoundSpec } from './round.js';

/**
 * The N configured masters and the rounds a primitive's scripts run on them: take, extend and
 * give, the same for every kind of lock. Keys arrive already laid out by the primitive.
 */
export class NodeSet {
  /**
   * Rules 1 and 7: the takes and gives of one token run on each node in the order they were
   * asked, each after the one before it has settled there. The attempts of one acquire share
   * their token, so the clean-up of attempt k must never land after the take of attempt k + 1:
   * it would delete the hold that attempt just won (seen in the soak: a clean-up that waited for
   * its slow take, behind the next attempt's take, and a lock granted twice). A take that met
   * NOSCRIPT is sent again (EVAL) after the boot check, so being sent in order on one connection
   * is not enough: each waits for the previous one's answer. The round's timer still bounds how
   * long a vote waits.
   */
  private readonly inFlight = new Map<string, Map<LockNode, Promise<void>>>();

  constructor(
    readonly nodes: readonly LockNode[],
    private readonly clock: Clock,
    /** Rule 15: judges where each node stands before its take vote counts. */
    private readonly amnesia: AmnesiaGuard,
    /** Releases announce themselves on each resource's wake channel (waiting-room.ts). */
    private readonly wakeUps = false,
    /** Told of each release made while it reaches every node ahead of later calls (waiting-room.ts releasedHere). */
    private readonly onReleaseSent?: (channels: readonly string[], releaser: string) => void,
  ) {}

  get size(): number {
    return this.nodes.length;
  }

  /**
   * Rule 2: one atomic script per node. Rule 15: a node that sits out of the quorum
   * (amnesia-guard.ts) still gets the write, but its yes counts as a failure.
   */
  take(primitive: Primitive, keys: PrimitiveKeys, token: string, ttl: number, proposal: number, timeoutMs: number, entryMs = 0): Promise<RoundOutcome<TakeReply>> {
    const scriptKeys = [...keys.take, ...this.amnesia.keys];
    const args = [token, ttl, ...primitive.takeArgs(proposal, entryMs)];
    // The census waits a little less than a node may take, so its verdict still counts.
    const census = this.amnesia.enabled ? this.amnesia.census(this.nodes, Math.max(1, Math.floor(timeoutMs * 0.75))) : undefined;
    return this.roundOf(primitive, timeoutMs, 'at-once', async (node) => {
      let reply: TakeReply;
      try {
        reply = takeReplyOf(await this.inOrder(node, token, () => node.run(primitive.take, scriptKeys, args)), token);
      } catch (error) {
        if (census && error instanceof SlotRestarted) {
          // A Cluster voter's slot found on a new server process only after its take ran there.
          const standing: NodeStanding = { kind: 'quarantined', taken: false, ms: error.ms };
          census.record(node.index, standing);
          await this.amnesia.judge(node, standing, census, keys.take);
        }
        census?.record(node.index, 'failed');
        throw error;
      }
      if (census) {
        census.record(node.index, reply.standing);
        // A served node (nearly every reply) is judged at once; the rest may wait for the census.
        if (!this.amnesia.judgeServed(node, reply.standing, keys.take)) await this.amnesia.judge(node, reply.standing, census, keys.take);
      }
      return { yes: reply.standing.taken, value: reply, hearAll: reply.detail.kind === 'fence-in-doubt' };
    });
  }

  /** Rule 11: extend only holds that are still ours and running, quorum required. */
  extend(primitive: Primitive, keys: PrimitiveKeys, token: string, ttl: number, timeoutMs: number): Promise<RoundOutcome<never>> {
    const scriptKeys = [...keys.extend, this.amnesia.keys[0]];
    return this.roundOf(primitive, timeoutMs, 'at-once', async (node) => ({ yes: (await node.run(primitive.extend, scriptKeys, [token, ttl])) === 1 }));
  }

  /**
   * Rules 7 and 13: give up our holds on all N, whatever we believe about each node, bounded
   * by the per-node timeout; a node votes yes when it let go of every resource. The answer comes
   * once the outcome is decided (plus a short grace for the count): a hung node must not make
   * every release, and so every locked request, wait for its timeout.
   */
  give(
    primitive: Primitive,
    keys: PrimitiveKeys,
    token: string,
    resourceCount: number,
    timeoutMs: number,
    /** Also withdraw a writer's waiting mark (false between the attempts of one acquire). */
    withdraw = true,
  ): Promise<RoundOutcome<never>> {
    const args = [token, withdraw ? 1 : 0, ...(this.wakeUps ? keys.wake : [])];
    // The release reaches every node ahead of any call made after it (a waiter's take) when
    // nothing of this token is still on its way (otherwise it waits there for the earlier call):
    // the round below puts it in each node's queue before it returns. (A release sent again after
    // NOSCRIPT can still be overtaken: releasedHere covers that.)
    const sentAtOnce = !this.inFlight.has(token);
    const round = this.roundOf<never>(primitive, timeoutMs, 'with-grace', async (node) => ({ yes: (await this.inOrder(node, token, () => node.run(primitive.give, keys.give, args, true))) === resourceCount }));
    if (sentAtOnce && this.wakeUps && withdraw && !primitive.namesNextInLine) this.onReleaseSent?.(keys.wake, releaseName(token, withdraw));
    return round;
  }

  /**
   * Rule 7 between two attempts of one acquire: let go of what the lost attempt may have taken,
   * on every node that may hold it. For a one-resource lock of a primitive whose no holds
   * nothing of ours (the plain mutex, primitive.ts) that is the nodes that said yes, failed, or were not heard before the
   * round was decided, and those whose earlier clean-up did not answer (`uncleaned`: a clean-up
   * refused while the client reconnected may have left our hold there); for the others, all N.
   * Resolves to the nodes whose clean-up did not answer this time, to be cleaned again next time.
   * With wake-ups, 256 waiters on one key then cost one round per attempt instead of two.
   */
  async cleanUpAfterLostAttempt(
    primitive: Primitive,
    keys: PrimitiveKeys,
    token: string,
    resourceCount: number,
    timeoutMs: number,
    outcome: RoundOutcome<{ readonly standing: { readonly taken: boolean } }>,
    uncleaned: ReadonlySet<number>,
  ): Promise<Set<number>> {
    const mayHold = this.nodes.filter((node, position) => {
      // A lock over several resources may hold the first one and answer no for the second.
      if (!primitive.noHoldsNothingOfOurs || resourceCount > 1 || uncleaned.has(node.index)) return true;
      const reply = outcome.values[position];
      return reply === undefined || reply.standing.taken || outcome.errors.some((e) => e.node === node.index);
    });
    if (mayHold.length === 0) return new Set();
    const args = [token, 0, ...(this.wakeUps ? keys.wake : [])];
    // A hung node costs a short grace here, not the node timeout: it is cleaned again next time.
    const cleaned = await runRound<true>({
      nodes: mayHold,
      timeoutMs,
      clock: this.clock,
      decideEarly: 'with-grace',
      ask: async (node) => {
        await this.inOrder(node, token, () => node.run(primitive.give, keys.give, args, true));
        return { yes: true, value: true };
      },
    });
    return new Set(mayHold.filter((_, position) => cleaned.values[position] !== true).map((node) => node.index));
  }

  /** A round of one of the primitive's scripts over every node, decided by the primitive's quorum. */
  private roundOf<V>(primitive: Primitive, timeoutMs: number, decideEarly: RoundSpec<V>['decideEarly'], ask: RoundSpec<V>['ask']): Promise<RoundOutcome<V>> {
    return runRound({ nodes: this.nodes, timeoutMs, clock: this.clock, quorum: primitive.quorum(this.size), decideEarly, ask });
  }

  /** Run `op` on `node` once the token's previous take or give there has settled (see inFlight). */
  private inOrder(node: LockNode, token: string, op: () => Promise<unknown>): Promise<unknown> {
    let ops = this.inFlight.get(token);
    if (!ops) this.inFlight.set(token, (ops = new Map()));
    const previous = ops.get(node);
    const result = previous ? previous.then(op) : op();
    // Once settled, and nothing else was queued behind it, the node's entry goes.
    const forget = () => {
      if (ops.get(node) !== settled) return;
      ops.delete(node);
      if (ops.size === 0 && this.inFlight.get(token) === ops) this.inFlight.delete(token);
    };
    const settled: Promise<void> = result.then(forget, forget);
    ops.set(node, settled);
    return result;
  }

  /** A read-only script on every node, decided by a majority (isLocked): yes = the node answered 1. */
  probe(script: LockScript, keys: readonly string[], timeoutMs: number): Promise<RoundOutcome<never>> {
    return runRound({
      nodes: this.nodes,
      timeoutMs,
      clock: this.clock,
      decideEarly: 'either-way',
      ask: async (node) => ({ yes: (await node.run(script, keys, [])) === 1 }),
    });
  }

  /** Run one script on some of the nodes, every one of them answering or timing out. */
  runOn(nodes: readonly LockNode[], script: LockScript, keys: readonly string[], args: readonly (string | number)[], timeoutMs: number): Promise<RoundOutcome<never>> {
    return runRound({ nodes, timeoutMs, clock: this.clock, decideEarly: 'never', ask: async (node) => ({ yes: (await node.run(script, keys, args)) === 1 }) });
  }

  /** The node's generation key, the last of its guard keys (fence re-seeding writes in it). */
  get generationKey(): string {
    return this.amnesia.keys[3];
  }
}
