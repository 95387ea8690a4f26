/** One lock node as seen by GET /health. */
export interface NodeHealth {
  /** Position in REDIS_URLS, from 0: the numbering of the lock module's own log lines and errors. */
  readonly node: number;
  /** host:port, never credentials. */
  readonly address: string;
  readonly status: 'up' | 'down';
  /** PING round trip, ms; null when the node did not answer. */
  readonly latencyMs: number | null;
  /** Why the node counts as down. */
  readonly error?: string;
}

export interface HealthReport {
  /** ok: every node up; degraded: some down but a majority up (locks still work); down: no majority. */
  readonly status: 'ok' | 'degraded' | 'down';
  /** Nodes that must answer for a lock to be granted. */
  readonly quorum: number;
  readonly nodes: readonly NodeHealth[];
}
