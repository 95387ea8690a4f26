import type { NodeError } from '../errors.js';
import type { RoundOutcome } from './round.js';

export { quorumOf, semaphoreQuorumOf } from '../primitives/quorum.js';

export type Verdict = 'won' | 'busy' | 'unavailable';

/**
 * The one place that turns votes into a decision (rules 6, 8, 9): won once Q said yes,
 * whatever the others did; unavailable when so many nodes failed that Q could not have been
 * reached even if every other node had said yes; otherwise busy.
 */
export function verdictOf(outcome: RoundOutcome<unknown>, nodeCount: number): Verdict {
  const quorum = outcome.quorum;
  if (outcome.yes >= quorum) return 'won';
  if (outcome.errors.length > nodeCount - quorum) return 'unavailable';
  return 'busy';
}

/**
 * An unavailable round's way back, ms (rule 15): the quorum counts again once enough failed nodes
 * are back, so when at least that many only sit out for a known time, the soonest such moment.
 */
export function quorumReturnsIn(outcome: RoundOutcome<unknown>, nodeCount: number): number | undefined {
  const needed = outcome.errors.length - (nodeCount - outcome.quorum);
  const known = outcome.errors.flatMap((e) => (e.countsAgainInMs === undefined ? [] : [e.countsAgainInMs])).sort((a, b) => a - b);
  return needed > 0 && known.length >= needed ? known[needed - 1] : undefined;
}

/**
 * When a busy take could next succeed, ms: the time until the holds that blocked it end on a
 * quorum of nodes, the q-th soonest of each node's time (0 for a node that is free; undefined,
 * never, for one that failed or did not say). undefined when no quorum's worth is known.
 */
export function freeOnQuorumIn(holderMsByNode: readonly (number | undefined)[], quorum: number): number | undefined {
  const soonest = holderMsByNode.map((ms) => ms ?? Infinity).sort((a, b) => a - b);
  const ms = soonest[quorum - 1] ?? Infinity;
  return Number.isFinite(ms) ? ms : undefined;
}

/** The failed nodes of a round, for messages: `#1 host:port: what happened; …` (no credentials). */
export function describeNodeErrors(errors: readonly NodeError[]): string {
  return errors.map((e) => `#${e.node} ${e.address}: ${e.message}`).join('; ');
}
