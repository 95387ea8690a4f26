import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { RedlockConfigError, show } from '../errors.js';
import type { RedisConnection } from './ioredis-node.js';
import { guardSocketErrors } from './stream-error-guard.js';

/** What a node may be given as: a `redis://` / `rediss://` URL, ioredis options, or a live client. */
export type NodeSpec = string | RedisOptions | RedisConnection;

export interface OpenedConnection {
  readonly client: RedisConnection;
  /** true when this library created the client and so must close it. */
  readonly owned: boolean;
  /** `host:port` without credentials, for logs and errors. */
  readonly address: string;
}

/**
 * Settings for connections we create: a dead node must fail fast rather than queue commands
 * forever (our own per-node timeout bounds every call anyway).
 */
const OWNED_CONNECTION_DEFAULTS: RedisOptions = {
  maxRetriesPerRequest: 1,
  enableOfflineQueue: true,
  connectTimeout: 2_000,
  // ioredis keeps a (ref'd) timer this long when disconnecting a socket that is already dead.
  disconnectTimeout: 200,
  retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 2_000),
};

export function validateNodeSpecs(nodes: unknown, field = 'nodes'): NodeSpec[] {
  if (!Array.isArray(nodes) || nodes.length === 0) {
    throw new RedlockConfigError(field, `must be a non-empty array of Redis URLs, ioredis options or clients, got ${show(nodes)}`);
  }
  nodes.forEach((spec, i) => checkNodeSpec(spec, `${field}[${i}]`));
  return nodes as NodeSpec[];
}

export function openConnection(spec: NodeSpec): OpenedConnection {
  if (isRedisConnection(spec)) {
    return { client: spec, owned: false, address: addressOfClient(spec) };
  }
  if (typeof spec === 'string') {
    const url = new URL(spec);
    const client = ownedClient(new Redis(spec, { ...OWNED_CONNECTION_DEFAULTS, lazyConnect: true }), false);
    return { client, owned: true, address: `${url.hostname}:${url.port || '6379'}` };
  }
  const client = ownedClient(new Redis({ ...OWNED_CONNECTION_DEFAULTS, ...spec, lazyConnect: true }), spec.lazyConnect === true);
  return { client, owned: true, address: addressOfOptions(spec) };
}

/**
 * Created lazily so its sockets are guarded from the first one on (see guardSocketErrors), then
 * connected unless the caller asked for lazyConnect. A failed connect is reported through the
 * client's 'error' event, which the node adapter listens to.
 */
function ownedClient(client: Redis, lazy: boolean): Redis {
  guardSocketErrors(client);
  if (!lazy) client.connect().catch(() => undefined);
  return client;
}

export function isRedisConnection(value: unknown): value is RedisConnection {
  const c = value as Partial<Redis>;
  return (
    typeof value === 'object' && value !== null &&
    typeof c.evalsha === 'function' && typeof c.eval === 'function' && typeof c.on === 'function'
  );
}

function checkNodeSpec(spec: unknown, field: string): void {
  if (isRedisConnection(spec)) return;
  if (typeof spec === 'string') {
    let url: URL;
    try {
      url = new URL(spec);
    } catch {
      // Never echo the string: it may carry a password.
      throw new RedlockConfigError(field, 'is not a valid URL (expected redis://[user:password@]host[:port][/db] or rediss://…)');
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new RedlockConfigError(field, `must use redis:// or rediss://, got ${url.protocol}//`);
    }
    if (!url.hostname) throw new RedlockConfigError(field, 'has no host');
    return;
  }
  if (typeof spec === 'object' && spec !== null && !Array.isArray(spec)) {
    const o = spec as RedisOptions;
    if (o.port !== undefined && (!Number.isInteger(o.port) || o.port <= 0 || o.port > 65_535)) {
      throw new RedlockConfigError(`${field}.port`, `must be a port number from 1 to 65535, got ${show(o.port)}`);
    }
    if (o.host !== undefined && (typeof o.host !== 'string' || o.host.length === 0)) {
      throw new RedlockConfigError(`${field}.host`, `must be a non-empty string, got ${show(o.host)}`);
    }
    return;
  }
  throw new RedlockConfigError(field, `must be a Redis URL, ioredis options or an ioredis client, got ${show(spec)}`);
}

function addressOfOptions(o: RedisOptions): string {
  if (o.path) return o.path;
  // A Sentinel-managed master: the address changes with each failover, the group's name does not.
  if (o.sentinels && o.sentinels.length > 0) return `sentinel master ${o.name ?? 'mymaster'}`;
  return `${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;
}

function addressOfClient(client: RedisConnection): string {
  if ((client as { isCluster?: boolean }).isCluster === true) {
    // A Cluster voter is named by the nodes it was started from (credentials are never in them as host:port).
    const startup = (client as unknown as { startupNodes?: unknown[] }).startupNodes ?? [];
    const first = startup.map((n) => (typeof n === 'object' && n !== null && 'port' in n ? `${String((n as { host?: string }).host ?? '127.0.0.1')}:${String((n as { port: unknown }).port)}` : typeof n === 'number' ? `127.0.0.1:${n}` : undefined)).find((a) => a !== undefined);
    return first ? `cluster ${first}` : 'cluster';
  }
  const options = (client as Redis).options as RedisOptions | undefined;
  if (options && (options.host || options.port)) return addressOfOptions(options);
  return client.constructor?.name === 'Cluster' ? 'cluster' : 'client';
}

/** QUIT politely, bounded in time (a dead node cannot answer), then make sure the socket is gone. */
export async function closeConnection(client: RedisConnection): Promise<void> {
  if (client.status === 'end') return;
  let onEnd: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (onEnd = resolve));
  client.once('end', onEnd);
  try {
    // QUIT on a client that is not connected never resolves: only a ready one can say goodbye.
    if (client.status === 'ready') await within(client.quit().catch(() => undefined), 1_000);
    const status = client.status as string;
    if (status === 'end') return; // quit() ended it meanwhile
    client.disconnect();
    // Between two reconnect attempts (or before the first connect) there is no socket to wait for,
    // and ioredis then emits no 'end': waiting for it would cost every quit() with a dead node 1 s.
    if (status === 'reconnecting' || status === 'wait') return;
    await within(ended, 1_000);
  } finally {
    client.off('end', onEnd);
  }
}

/** Waits for `promise` at most `ms`; the bound's timer is cleared either way, so quit() leaves none behind. */
export async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}
