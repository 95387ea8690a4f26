/**
 * Where a node stands towards rule 15, as its acquire script reported it (see scripts.ts):
 * - served: it has this deployment's marker; `largestLease` is the longest lease recorded there,
 *   `birthMs` how much longer the deployment counts as being born (its nodes still being marked);
 * - quarantined: it restarted or lost its data and its votes stay out `ms` more (node clock);
 * - unmarked: no marker: a fresh node, or one that lost its data. Only the other nodes can tell.
 */
export type NodeStanding =
  | { readonly kind: 'served'; readonly taken: boolean; readonly largestLease: number; readonly birthMs: number }
  | { readonly kind: 'quarantined'; readonly taken: boolean; readonly ms: number }
  | { readonly kind: 'unmarked'; readonly taken: boolean };

/** Reads the acquire script's `{taken, standing, ms, birth}`; a bare 1 / 0 is a served node (test doubles). */
export function standingOf(reply: unknown): NodeStanding {
  if (typeof reply === 'number') return { kind: 'served', taken: reply === 1, largestLease: 0, birthMs: 0 };
  if (!Array.isArray(reply) || reply.length < 4) throw new Error(`unexpected acquire reply ${JSON.stringify(reply)}`);
  const [taken, standing, ms, birthMs] = reply.map(Number);
  if (standing === 1) return { kind: 'quarantined', taken: taken === 1, ms };
  if (standing === 2) return { kind: 'unmarked', taken: taken === 1 };
  return { kind: 'served', taken: taken === 1, largestLease: ms, birthMs };
}
