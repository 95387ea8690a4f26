import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';
import { guardChild } from './orphan-guard.js';
import { locateRedisServer, RedisProcess } from './redis-process.js';

const HOST = '127.0.0.1';
export const MASTER_NAME = 'mymaster';

/** One Sentinel process (redis-server --sentinel), which needs a config file it may rewrite. */
class SentinelProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(dir: string, masterPort: number, quorum: number): Promise<SentinelProcess> {
    const port = await freePort(HOST);
    const conf = join(dir, `sentinel-${port}.conf`);
    await writeFile(
      conf,
      [
        `port ${port}`,
        `bind ${HOST}`,
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} ${HOST} ${masterPort} ${quorum}`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 5000`,
        '',
      ].join('\n'),
    );
    const child = spawn(locateRedisServer(), [conf, '--sentinel', '--loglevel', 'warning'], { cwd: dir, stdio: 'ignore' });
    guardChild(child);
    child.unref();
    const sentinel = new SentinelProcess(child, port);
    const probe = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      for (let i = 0; i < 200; i++) {
        if (child.exitCode !== null) throw new Error(`redis-sentinel on port ${port} exited at start-up (code ${child.exitCode})`);
        const pong = await probe.connect().then(() => probe.ping(), () => undefined).catch(() => undefined);
        if (pong === 'PONG') return sentinel;
        probe.disconnect();
        await sleep(25);
      }
      throw new Error(`redis-sentinel on port ${port} did not answer PING`);
    } catch (error) {
      await sentinel.kill();
      throw error;
    } finally {
      probe.disconnect();
    }
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.ref();
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
    this.child.unref();
  }
}

export interface SentinelGroup {
  /** For ioredis: `{ sentinels, name }`. */
  readonly sentinels: readonly { host: string; port: number }[];
  readonly name: string;
  /** The port of the current master, as the sentinels report it. */
  masterPort(): Promise<number>;
  /** A direct connection to the server on `port` (master or replica), closed by stop(). */
  direct(port: number): Redis;
  readonly ports: readonly number[];
  /**
   * SENTINEL FAILOVER (no agreement needed): the replica is promoted. Resolves once the
   * sentinels name the new master and it answers as one.
   */
  failover(timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A Sentinel-managed master: one master, one replica (`replica-read-only no`, so a test can make
 * it lag behind by deleting a key on it alone) and `sentinels` sentinels, on free loopback ports.
 */
export async function startSentinelGroup(sentinels = 1): Promise<SentinelGroup> {
  const dir = await mkdtemp(join(tmpdir(), 'redlock-sentinel-'));
  const servers: RedisProcess[] = [];
  const watchers: SentinelProcess[] = [];
  const clients = new Set<Redis>();
  const direct = (port: number): Redis => {
    const client = new Redis({ host: HOST, port, maxRetriesPerRequest: 1, disconnectTimeout: 100 });
    client.on('error', () => {});
    clients.add(client);
    return client;
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const client of clients) client.disconnect();
      await Promise.allSettled([...watchers.map((s) => s.kill()), ...servers.map((s) => s.kill())]);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    const masterDir = await mkdtemp(join(dir, 'master-'));
    const replicaDir = await mkdtemp(join(dir, 'replica-'));
    servers.push(await RedisProcess.start({ port: await freePort(HOST), dir: masterDir, appendOnly: false }));
    const masterPort = servers[0]!.port;
    servers.push(
      await RedisProcess.start({
        port: await freePort(HOST),
        dir: replicaDir,
        appendOnly: false,
        extraArgs: ['--replicaof', HOST, String(masterPort), '--replica-read-only', 'no'],
      }),
    );
    const replica = direct(servers[1]!.port);
    for (let i = 0; !/master_link_status:up/.test(await replica.info('replication')); i++) {
      if (i > 200) throw new Error('the replica did not sync with its master');
      await sleep(25);
    }
    for (let i = 0; i < sentinels; i++) watchers.push(await SentinelProcess.start(dir, masterPort, 1));
    // A sentinel finds the replica through the master's INFO, which it reads only now and then at
    // first: until it has, SENTINEL FAILOVER is refused.
    for (const watcher of watchers) {
      const sentinel = direct(watcher.port);
      for (let i = 0; ((await sentinel.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as unknown[]).length === 0; i++) {
        if (i > 600) throw new Error('the sentinel did not find the replica within 15 s');
        await sleep(25);
      }
      sentinel.disconnect();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const askSentinel = async (): Promise<number> => {
    const sentinel = direct(watchers[0]!.port);
    try {
      const [, port] = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as [string, string];
      return Number(port);
    } finally {
      sentinel.disconnect();
    }
  };
  return {
    sentinels: watchers.map((s) => ({ host: HOST, port: s.port })),
    name: MASTER_NAME,
    ports: servers.map((s) => s.port),
    masterPort: askSentinel,
    direct,
    failover: async (timeoutMs = 15_000) => {
      const before = await askSentinel();
      const sentinel = direct(watchers[0]!.port);
      const deadline = performance.now() + timeoutMs;
      try {
        // A sentinel refuses while it has not yet found the replica (INFO every 10 s at first): retry.
        for (;;) {
          const done = await sentinel.call('SENTINEL', 'FAILOVER', MASTER_NAME).then(() => true, (e: unknown) => String(e));
          if (done === true) break;
          if (performance.now() > deadline) throw new Error(`SENTINEL FAILOVER kept failing: ${done}`);
          await sleep(100);
        }
        for (;;) {
          const now = await askSentinel();
          if (now !== before) {
            const promoted = direct(now);
            const role = await promoted.call('ROLE').catch(() => []) as unknown[];
            promoted.disconnect();
            if (role[0] === 'master') return now;
          }
          if (performance.now() > deadline) throw new Error('the failover did not complete in time');
          await sleep(50);
        }
      } finally {
        sentinel.disconnect();
      }
    },
    stop,
  };
}
