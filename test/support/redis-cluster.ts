import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions } from 'ioredis';
import { freePort } from './free-port.js';
import { RedisProcess, RedisStartError } from './redis-process.js';

const HOST = '127.0.0.1';
const SLOTS = 16_384;
const PORT_ATTEMPTS = 5;

/**
 * Cluster mode without persistence. A lost node is reported after 1 s; `require-full-coverage no`
 * keeps the other shards answering while one is down (so a test sees one shard's slots go, not
 * the whole voter).
 */
const CLUSTER_ARGS = (dir: string) => [
  '--cluster-enabled', 'yes',
  '--cluster-config-file', join(dir, 'nodes.conf'),
  '--cluster-node-timeout', '1000',
  '--cluster-require-full-coverage', 'no',
  // A lone master never learns its own address from a MEET: without this it would announce none.
  '--cluster-announce-ip', HOST,
];

/** One master of a test cluster: a redis-server in cluster mode, with its own data dir. */
export class ClusterMaster {
  constructor(
    readonly port: number,
    private readonly dir: string,
    private server: RedisProcess,
    /** The slot range this master was given: [first, last]. */
    readonly slots: readonly [number, number],
  ) {}

  get pid(): number | undefined {
    return this.server.pid;
  }

  async kill(): Promise<void> {
    await this.server.kill();
  }

  /**
   * Kill, then start again on the same port with the same nodes.conf (same node id, same slots)
   * but no data: a shard master that restarted empty.
   */
  async restartEmpty(): Promise<void> {
    await this.kill();
    const entries = (await readdir(this.dir)).filter((entry) => entry !== 'nodes.conf');
    await Promise.all(entries.map((entry) => rm(join(this.dir, entry), { recursive: true, force: true })));
    this.server = await RedisProcess.start({ port: this.port, dir: this.dir, appendOnly: false, extraArgs: CLUSTER_ARGS(this.dir) });
  }

  /** A direct (non-cluster) connection to this master, closed by the caller. */
  direct(): Redis {
    const client = new Redis({ host: HOST, port: this.port, maxRetriesPerRequest: 1, disconnectTimeout: 100 });
    client.on('error', () => {});
    return client;
  }

  async dispose(): Promise<void> {
    await this.server.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export interface RedisCluster {
  readonly masters: readonly ClusterMaster[];
  /** With `replicas: 1`: replicas[i] replicates masters[i] (until a failover swaps their roles). */
  readonly replicas: readonly ClusterMaster[];
  readonly startupNodes: readonly { host: string; port: number }[];
  /** A new ioredis Cluster client on this cluster, closed by stop() (tests may close it sooner). */
  client(options?: ClusterOptions): Cluster;
  /** The master serving `slot`. */
  masterOf(slot: number): ClusterMaster;
  /** Waits until every running master reports cluster_state:ok and knows every slot. */
  waitUntilOk(timeoutMs?: number): Promise<void>;
  /** Close the clients, kill every master, remove the data dirs. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` masters on free loopback ports: slots split in equal ranges with
 * CLUSTER ADDSLOTSRANGE, joined with CLUSTER MEET, resolved once every node says
 * cluster_state:ok. With `replicas: 1`, each master also gets a replica (CLUSTER REPLICATE), in
 * sync before this resolves: killing a master then makes the cluster promote its replica.
 */
export async function startRedisCluster(masters: number, options: { replicas?: 0 | 1 } = {}): Promise<RedisCluster> {
  if (!Number.isInteger(masters) || masters < 1) throw new RangeError(`startRedisCluster: bad count ${masters}`);
  const replicaCount = options.replicas ?? 0;
  const started = await Promise.allSettled(Array.from({ length: masters * (1 + replicaCount) }, (_, i) => startMaster(rangeOf(i % masters, masters))));
  const all = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const nodes = all.slice(0, masters);
  const replicas = all.slice(masters);
  const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  const clients = new Set<Cluster>();
  let stopping: Promise<void> | undefined;
  const cluster: RedisCluster = {
    masters: nodes,
    replicas,
    startupNodes: nodes.map((m) => ({ host: HOST, port: m.port })),
    client: (options = {}) => {
      const client = new Cluster(
        nodes.map((m) => ({ host: HOST, port: m.port })),
        {
          // Fail fast, as a lock client wants: our per-node timeout bounds every call anyway.
          clusterRetryStrategy: (attempt) => Math.min(50 * attempt, 500),
          retryDelayOnClusterDown: 50,
          retryDelayOnFailover: 50,
          slotsRefreshTimeout: 500,
          ...options,
          redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 1_000, disconnectTimeout: 100, ...options.redisOptions },
        },
      );
      client.on('error', () => {});
      clients.add(client);
      return client;
    },
    masterOf: (slot) => {
      const master = nodes.find((m) => slot >= m.slots[0] && slot <= m.slots[1]);
      if (!master) throw new RangeError(`no master serves slot ${slot}`);
      return master;
    },
    waitUntilOk: (timeoutMs = 10_000) => waitUntilOk(all, timeoutMs),
    stop: () => {
      stopping ??= (async () => {
        for (const client of clients) client.disconnect();
        clients.clear();
        await Promise.allSettled(all.map((m) => m.dispose()));
      })();
      return stopping;
    },
  };
  if (failure) {
    await cluster.stop();
    throw failure.reason;
  }
  try {
    await form(nodes);
    await waitUntilOk(nodes, 10_000);
    if (replicas.length > 0) await attach(nodes, replicas);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

function rangeOf(index: number, count: number): [number, number] {
  const first = Math.floor((SLOTS * index) / count);
  const last = Math.floor((SLOTS * (index + 1)) / count) - 1;
  return [first, last];
}

async function startMaster(slots: [number, number]): Promise<ClusterMaster> {
  const dir = await mkdtemp(join(tmpdir(), 'redlock-cluster-'));
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(HOST);
    try {
      const server = await RedisProcess.start({ port, dir, appendOnly: false, extraArgs: CLUSTER_ARGS(dir) });
      return new ClusterMaster(port, dir, server, slots);
    } catch (error) {
      if (!(error instanceof RedisStartError && error.addressInUse) || attempt >= PORT_ATTEMPTS) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
}

async function withDirect<T>(master: ClusterMaster, work: (client: Redis) => Promise<T>): Promise<T> {
  const client = master.direct();
  try {
    return await work(client);
  } finally {
    client.disconnect();
  }
}

/** Each master takes its slot range, then every master meets the first one. */
async function form(masters: readonly ClusterMaster[]): Promise<void> {
  await Promise.all(
    masters.map((m) =>
      withDirect(m, async (client) => {
        await client.call('CLUSTER', 'ADDSLOTSRANGE', String(m.slots[0]), String(m.slots[1]));
        if (m !== masters[0]) await client.call('CLUSTER', 'MEET', HOST, String(masters[0]!.port));
      }),
    ),
  );
}

/** Each replica meets the cluster, replicates its master, and is in sync before this resolves. */
async function attach(masters: readonly ClusterMaster[], replicas: readonly ClusterMaster[]): Promise<void> {
  const ids = await Promise.all(masters.map((m) => withDirect(m, async (client) => String(await client.call('CLUSTER', 'MYID')))));
  await Promise.all(replicas.map((r) => withDirect(r, (client) => client.call('CLUSTER', 'MEET', HOST, String(masters[0]!.port)))));
  await waitUntilOk([...masters, ...replicas], 10_000);
  await Promise.all(
    replicas.map((r, i) =>
      withDirect(r, async (client) => {
        // A replica can only replicate a master its own view of the cluster already knows.
        for (let attempt = 0; ; attempt++) {
          const done = await client.call('CLUSTER', 'REPLICATE', ids[i]!).then(() => true, (e: unknown) => e);
          if (done === true) break;
          if (attempt > 100) throw done;
          await sleep(50);
        }
        for (let attempt = 0; !/master_link_status:up/.test(await client.info('replication')); attempt++) {
          if (attempt > 200) throw new Error(`the replica on port ${r.port} did not sync with its master`);
          await sleep(50);
        }
      }),
    ),
  );
}

async function waitUntilOk(masters: readonly ClusterMaster[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  while (performance.now() < deadline) {
    const states = await Promise.all(
      masters.map((m) =>
        m.pid === undefined
          ? Promise.resolve('down')
          : withDirect(m, async (client) => {
              const info = String(await client.call('CLUSTER', 'INFO'));
              const ok = /cluster_state:ok/.test(info) && /cluster_slots_assigned:16384/.test(info) && new RegExp(`cluster_known_nodes:${masters.length}\\b`).test(info);
              return ok ? 'ok' : info.split('\r\n').slice(0, 6).join(' ');
            }).catch((error: unknown) => String(error)),
      ),
    );
    if (states.every((s) => s === 'ok' || s === 'down')) return;
    last = states.join(' | ');
    await sleep(50);
  }
  throw new Error(`the cluster did not become ok within ${timeoutMs} ms: ${last}`);
}
