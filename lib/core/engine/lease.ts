import { leaseDeadline } from '../time/clock.js';
import type { Clock } from '../time/clock.js';
import type { RoundOutcome } from './round.js';
import { verdictOf } from './verdict.js';
import type { Verdict } from './verdict.js';

export interface LeaseStep<V> {
  readonly outcome: RoundOutcome<V>;
  readonly verdict: Verdict;
  /** Monotonic deadline of the lease the round wrote. */
  readonly validUntil: number;
  /** Rule 6: won AND time left when the verdict came (a late quorum is no lock). */
  readonly granted: boolean;
}

/**
 * The one lease step, for acquire and extension alike: t0 before the first write on the
 * monotonic clock (rule 5), the round, then validity = t0 + ttl - drift (rule 6, rule 11),
 * granted only when a quorum said yes and some of it is left.
 */
export async function leaseStep<V>(
  clock: Clock,
  ttl: number,
  driftFactor: number,
  nodeCount: number,
  round: () => Promise<RoundOutcome<V>>,
): Promise<LeaseStep<V>> {
  const startedAt = clock.now();
  const outcome = await round();
  const validUntil = leaseDeadline(startedAt, ttl, driftFactor);
  const verdict = verdictOf(outcome, nodeCount);
  return { outcome, verdict, validUntil, granted: verdict === 'won' && validUntil > clock.now() };
}
