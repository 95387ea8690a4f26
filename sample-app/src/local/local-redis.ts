// The repository's test harness is plain Node (no jest), so the sample reuses it instead of
// carrying a second copy of the redis-server process code.
import { startRedisNodes, type RedisNodes } from '../../../test/support/redis-nodes.js';

/**
 * Throwaway redis-server processes for running the shop without any Redis set up: N lock nodes
 * plus one data node, on free loopback ports (never 6379) with temp dirs. Every node sits behind
 * a small TCP proxy, and stop() removes all of it.
 */
export class LocalRedis {
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly lockNodes: RedisNodes,
    readonly dataNode: RedisNodes,
  ) {}

  static async start(lockNodeCount = 3): Promise<LocalRedis> {
    const [lock, data] = await Promise.allSettled([startRedisNodes(lockNodeCount), startRedisNodes(1)]);
    if (lock.status === 'fulfilled' && data.status === 'fulfilled') return new LocalRedis(lock.value, data.value);
    // One set may have started: leave nothing running behind the error.
    await Promise.all([lock, data].map((set) => (set.status === 'fulfilled' ? set.value.stop() : undefined)));
    throw lock.status === 'rejected' ? lock.reason : (data as PromiseRejectedResult).reason;
  }

  get lockUrls(): string[] {
    return this.lockNodes.urls();
  }

  get dataUrl(): string {
    return this.dataNode.urls()[0]!;
  }

  /** The environment the shop reads its Redis settings from. */
  get env(): { REDIS_URLS: string; DATA_REDIS_URL: string } {
    return { REDIS_URLS: this.lockUrls.join(','), DATA_REDIS_URL: this.dataUrl };
  }

  /** Kills every redis-server and proxy, removes the temp dirs. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= Promise.all([this.lockNodes.stop(), this.dataNode.stop()]).then(() => undefined);
    return this.stopping;
  }
}
