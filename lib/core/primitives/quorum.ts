/** Q = floor(N/2) + 1 of the configured N (never of the nodes that happen to be up). */
export function quorumOf(nodeCount: number): number {
  return Math.floor(nodeCount / 2) + 1;
}

/**
 * Rule 18: the quorum of a semaphore with `limit` permits over N nodes: each node admits at most `limit`
 * holders, so `limit + 1` holders would need (limit + 1) x Q places among the N x limit there
 * are; that is impossible only when (limit + 1) x Q > N x limit. A majority is enough for
 * limit 1 (the mutex) but not above it: with limit 3 on 5 nodes, 5 holders on 5 different
 * majorities fill every node to exactly 3. Hence Q = floor(N x limit / (limit + 1)) + 1
 * (limit 3 on 5 nodes: 4; limit 2 or more on 3 nodes: all 3), never less than a majority.
 */
export function semaphoreQuorumOf(nodeCount: number, limit: number): number {
  return Math.max(quorumOf(nodeCount), Math.floor((nodeCount * limit) / (limit + 1)) + 1);
}
