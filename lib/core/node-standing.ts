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

/**
 * Reads the acquire script's `{taken, standing, ms, birth, token}`. Anything else, or another
 * call's token, is a failure of this node: a reply paired with the wrong command (a proxy or a
 * connection out of step) must never count as a vote.
 */
export function standingOf(reply: unknown, token: string): NodeStanding {
  if (!Array.isArray(reply) || reply.length !== 5 || String(reply[4]) !== token) {
    throw new Error('the node answered with a reply that is not this acquire\'s own (connection out of step)');
  }
  const [taken, standing, ms, birthMs] = reply.slice(0, 4).map(Number);
  if (standing === 1) return { kind: 'quarantined', taken: taken === 1, ms };
  if (standing === 2) return { kind: 'unmarked', taken: taken === 1 };
  return { kind: 'served', taken: taken === 1, largestLease: ms, birthMs };
}
