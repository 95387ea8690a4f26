import type { Clock } from './clock.js';

/**
 * CORRECTNESS rule 15, enforced by the client ("delayed restart"): a node that restarted less
 * than one lease ago may have lost keys that other owners still count on, so its "yes" to an
 * acquire is not counted until a full lease has passed since it came up — unless the node is
 * durable (AOF with appendfsync always), which keeps every acknowledged lock across a crash.
 *
 * What the guard knows of a node comes from INFO on every (re)connection; until that answer
 * arrives the node's votes do not count either, so a reconnect cannot slip a vote through.
 */
export interface NodeFacts {
  /** Monotonic ms at which the server process started (now − uptime, rounded so it errs late). */
  readonly startedAt: number;
  /** AOF on with appendfsync always: acknowledged writes survive a crash. */
  readonly durable: boolean;
  readonly runId: string | undefined;
}

export class NodeRestartGuard {
  private facts: NodeFacts | undefined;

  constructor(
    readonly clock: Clock,
    /** How long a restarted node stays out, ms (the largest lease in use); 0 disables the guard. */
    private readonly window: () => number,
  ) {}

  /** The connection dropped: whatever we knew may no longer be true. */
  forget(): void {
    this.facts = undefined;
  }

  learn(facts: NodeFacts): void {
    this.facts = facts;
  }

  get knows(): NodeFacts | undefined {
    return this.facts;
  }

  /** Why this node's acquire votes do not count right now, or undefined when they do. */
  vetoReason(): string | undefined {
    const window = this.window();
    if (window <= 0) return undefined;
    const facts = this.facts;
    if (!facts) return 'node not yet verified since it (re)connected';
    if (facts.durable) return undefined;
    const outFor = facts.startedAt + window - this.clock.now();
    if (outFor <= 0) return undefined;
    return `node restarted recently and is not durable: its votes count again in ${Math.ceil(outFor)} ms`;
  }
}

/**
 * Reads what the guard needs from INFO (server + persistence sections) and, when AOF is on,
 * from CONFIG GET appendfsync. A server that refuses CONFIG is treated as not durable.
 */
export function parseInfo(info: string): { uptimeSeconds: number | undefined; runId: string | undefined; aofEnabled: boolean } {
  const fields = new Map<string, string>();
  for (const line of info.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const uptime = Number(fields.get('uptime_in_seconds'));
  return {
    uptimeSeconds: Number.isFinite(uptime) && fields.has('uptime_in_seconds') ? uptime : undefined,
    runId: fields.get('run_id'),
    aofEnabled: fields.get('aof_enabled') === '1',
  };
}
