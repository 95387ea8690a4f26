/**
 * Where a node stands towards rule 15, as its take script reported it (primitives/take-reply.ts):
 * - served: it has this deployment's marker; `largestLease` is the longest lease recorded there,
 *   `birthMs` how much longer the deployment counts as being born (its nodes still being marked);
 * - quarantined: it restarted or lost its data and its votes stay out `ms` more (node clock);
 * - unmarked: no marker: a fresh node, or one that lost its data. Only the other nodes can tell.
 */
export type NodeStanding =
  | { readonly kind: 'served'; readonly taken: boolean; readonly largestLease: number; readonly birthMs: number }
  | { readonly kind: 'quarantined'; readonly taken: boolean; readonly ms: number }
  | { readonly kind: 'unmarked'; readonly taken: boolean };
