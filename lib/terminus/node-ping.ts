import type { Redis } from 'ioredis';

/** One lock node as the health indicator saw it. */
export interface NodeHealth {
  /** Position in the configured nodes, from 0: the numbering of the engine's events and errors. */
  readonly node: number;
  /** host:port (or socket path), never credentials. */
  readonly address: string;
  readonly status: 'up' | 'down';
  /** PING round trip, ms (0.1 ms steps); null when the node did not answer. */
  readonly latencyMs: number | null;
  /** Why the node counts as down. */
  readonly error?: string;
}

const BROKEN = new Set(['reconnecting', 'close', 'end']);

function addressOf(client: Redis): string {
  const options = client.options as Redis['options'] | undefined;
  if (options?.path) return options.path;
  if (options && (options.host || options.port)) return `${options.host ?? '127.0.0.1'}:${options.port ?? 6379}`;
  return client.constructor?.name === 'Cluster' ? 'cluster' : 'client';
}

/**
 * PINGs one node through the client the locks use, so it sees what locks see, and gives up after
 * `timeoutMs`: a silent node must not stall the health check past the prober's own timeout.
 */
export async function pingNode(client: Redis, node: number, timeoutMs: number): Promise<NodeHealth> {
  const address = addressOf(client);
  // A connection known to be broken would queue the PING until it reconnects: down, and say why.
  // One still being set up (at start-up, or lazyConnect's 'wait') gets its PING, within the timeout.
  if (BROKEN.has(client.status)) return { node, address, status: 'down', latencyMs: null, error: `connection ${client.status}` };
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { node, address, status: 'up', latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (error) {
    return { node, address, status: 'down', latencyMs: null, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}
