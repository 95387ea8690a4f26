import type { NodeError } from '../errors.js';
import type { RoundOutcome } from './round.js';

/** Q = floor(N/2) + 1 of the configured N (never of the nodes that happen to be up). */
export function quorumOf(nodeCount: number): number {
  return Math.floor(nodeCount / 2) + 1;
}

export type Verdict = 'won' | 'busy' | 'unavailable';

/**
 * The one place that turns votes into a decision (rules 6, 8, 9): won once Q said yes,
 * whatever the others did; unavailable when so many nodes failed that Q could not have been
 * reached even if every other node had said yes; otherwise busy.
 */
export function verdictOf(outcome: RoundOutcome<unknown>, nodeCount: number): Verdict {
  const quorum = quorumOf(nodeCount);
  if (outcome.yes >= quorum) return 'won';
  if (outcome.errors.length > nodeCount - quorum) return 'unavailable';
  return 'busy';
}

/**
 * An unavailable round's way back, ms (rule 15): the quorum counts again once enough failed nodes
 * are back, so when at least that many only sit out for a known time, the soonest such moment.
 */
export function quorumReturnsIn(outcome: RoundOutcome<unknown>, nodeCount: number): number | undefined {
  const needed = outcome.errors.length - (nodeCount - quorumOf(nodeCount));
  const known = outcome.errors.flatMap((e) => (e.countsAgainInMs === undefined ? [] : [e.countsAgainInMs])).sort((a, b) => a - b);
  return needed > 0 && known.length >= needed ? known[needed - 1] : undefined;
}

/**
 * When a busy take could next succeed, ms: the time until the holds that blocked it end on a
 * quorum of nodes (the q-th soonest; a node that said yes is free at once, since the attempt
 * gives it back). undefined when too few nodes said how long their holder still runs.
 */
export function freeOnQuorumIn(holderMsByNode: readonly (number | undefined)[], nodeCount: number): number | undefined {
  const soonest = holderMsByNode.map((ms) => ms ?? Infinity).sort((a, b) => a - b);
  const ms = soonest[quorumOf(nodeCount) - 1] ?? Infinity;
  return Number.isFinite(ms) ? ms : undefined;
}

/** The failed nodes of a round, for messages: `#1 host:port: what happened; …` (no credentials). */
export function describeNodeErrors(errors: readonly NodeError[]): string {
  return errors.map((e) => `#${e.node} ${e.address}: ${e.message}`).join('; ');
}
