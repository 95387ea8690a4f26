import { startRedisNodes, type StartedRedisNodes } from '../../../lib/testing/index.js';
import { TEST_CONTAINER_OPTIONS } from '../../../test/support/test-container-options.js';

/**
 * The shop's Redis in containers (nestjs-redlock/testing's startRedisNodes), as a user's own e2e
 * tests would run it: N lock nodes and one data node, each a container with its own mapped port,
 * with Docker's faults (kill, restartEmpty, pause) per node. stop() removes every container.
 */
export class ContainerRedis {
  private constructor(
    readonly lockNodes: StartedRedisNodes,
    readonly dataNode: StartedRedisNodes,
  ) {}

  static async start(lockNodeCount = 3): Promise<ContainerRedis> {
    const [lock, data] = await Promise.allSettled([startRedisNodes(lockNodeCount, TEST_CONTAINER_OPTIONS), startRedisNodes(1, TEST_CONTAINER_OPTIONS)]);
    if (lock.status === 'fulfilled' && data.status === 'fulfilled') return new ContainerRedis(lock.value, data.value);
    // One set may have started: leave no container behind the error.
    await Promise.all([lock, data].map((set) => (set.status === 'fulfilled' ? set.value.stop() : undefined)));
    throw lock.status === 'rejected' ? lock.reason : (data as PromiseRejectedResult).reason;
  }

  get lockUrls(): readonly string[] {
    return this.lockNodes.urls;
  }

  get dataUrl(): string {
    return this.dataNode.urls[0]!;
  }

  /** Removes every container. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all([this.lockNodes.stop(), this.dataNode.stop()]);
  }
}
