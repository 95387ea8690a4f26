import { QuorumUnavailableError } from '../errors.js';
import { fenceKeysOf, RESEED_FENCE } from '../primitives/fenced.js';
import type { TakeReply } from '../primitives/take-reply.js';
import type { LockNode } from '../nodes/lock-node.js';
import type { NodeSet } from './node-set.js';
import type { RoundOutcome } from './round.js';
import { quorumOf } from './verdict.js';

/** Fences remembered per resource, at most this many (the oldest is forgotten first). */
const REMEMBERED_RESOURCES = 10_000;

/**
 * The largest fence this client has seen per resource: the next proposal is one more, so that
 * a client which just saw a fence does not need a round to learn it. Only a hint: the nodes
 * decide (a proposal that is too small is refused with the node's largest, and retried).
 */
export class FenceBook {
  private readonly largest = new Map<string, number>();

  proposalFor(resources: readonly string[]): number {
    return Math.max(0, ...resources.map((r) => this.largest.get(r) ?? 0)) + 1;
  }

  raise(resources: readonly string[], fence: number): void {
    for (const resource of resources) {
      if ((this.largest.get(resource) ?? 0) >= fence) continue;
      this.largest.delete(resource);
      this.largest.set(resource, fence);
      if (this.largest.size > REMEMBERED_RESOURCES) this.largest.delete(this.largest.keys().next().value as string);
    }
  }
}

export interface FencedRoundContext {
  readonly book: FenceBook;
  readonly nodeSet: NodeSet;
  readonly keyPrefix: string;
  readonly resources: readonly string[];
  readonly timeoutMs: number;
}

/** What a fenced take round teaches the next attempt. */
export type FenceLesson = 'try-again-now' | 'wait' | 'granted';

/**
 * After a fenced take round: remember the largest fence any node reported; re-seed nodes whose
 * fence values are in doubt (they restarted or lost data) from the others, before they vote on
 * fences again; and say whether the next attempt may go at once (the lock was free and only the
 * proposal was too small, or a node was just re-seeded).
 *
 * Re-seeding needs the largest fence of a quorum of nodes that are not in doubt (it then covers
 * every fence ever granted: any two quorums share a node), or, when a majority is in doubt, of
 * every node (all N answered): then fences continue from the largest value any node kept, which
 * is exact unless a majority lost acknowledged writes at once (CORRECTNESS.md: nobody can tell).
 */
export async function learnFromFencedRound(
  context: FencedRoundContext,
  outcome: RoundOutcome<TakeReply>,
  granted: number | undefined,
): Promise<FenceLesson> {
  const { book, nodeSet, resources } = context;
  let highest = granted ?? 0;
  let trusted = 0;
  let busy = false;
  let behind = false;
  const inDoubt: LockNode[] = [];
  outcome.values.forEach((reply, position) => {
    if (!reply) return;
    highest = Math.max(highest, reply.fence);
    if (reply.detail.kind === 'fence-in-doubt') inDoubt.push(nodeSet.nodes[position]);
    else trusted += 1;
    if (reply.detail.kind === 'busy') busy = true;
    if (reply.detail.kind === 'fence-behind') behind = true;
  });
  book.raise(resources, highest);
  let reseeded = false;
  if (inDoubt.length > 0) {
    const enough = trusted >= quorumOf(nodeSet.size) || trusted + inDoubt.length === nodeSet.size;
    if (enough) {
      const keys = [...fenceKeysOf(context.keyPrefix, resources), nodeSet.generationKey];
      const result = await nodeSet.runOn(inDoubt, RESEED_FENCE, keys, [highest], context.timeoutMs);
      reseeded = result.yes > 0;
    } else if (granted === undefined && nodeSet.size - inDoubt.length - outcome.errors.length < quorumOf(nodeSet.size)) {
      throw new QuorumUnavailableError(
        `cannot fence ${resources.join(', ')}: ${inDoubt.length} of ${nodeSet.size} nodes restarted or lost data and too few other nodes answered to re-seed their fences`,
        outcome.errors,
      );
    }
  }
  if (granted !== undefined) return 'granted';
  return !busy && (behind || reseeded) ? 'try-again-now' : 'wait';
}
