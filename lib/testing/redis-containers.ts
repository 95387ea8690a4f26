import { checkContainerRuntime } from './container-runtime-check.js';
import { loadTestcontainers } from './load-testcontainers.js';
import { ContainerRedisNode, type StartedRedisNode } from './redis-container-node.js';
import { resolveRedisNodesSettings, type StartRedisNodesOptions } from './redis-container-options.js';

/** What `startRedisNodes` returns: the nodes, and `stop()` for all of them. */
export interface StartedRedisNodes extends AsyncDisposable {
  readonly nodes: readonly StartedRedisNode[];
  /** Every node's `url`, in order: `RedlockModule.forRoot({ nodes: redis.urls })`. */
  readonly urls: readonly string[];
  /**
   * Remove every container (paused, killed or running), after any fault under way. Idempotent;
   * call it in `afterAll`/`afterEach` also when a test failed: without Ryuk it is the only
   * clean-up there is. `await using` calls it too.
   */
  stop(): Promise<void>;
}

/**
 * `count` independent Redis masters (1 to 15), each in a container of its own
 * (testcontainers), each answering PING on its mapped port when this resolves. If one fails to
 * start, the others are removed before it rejects. Needs the optional peer `testcontainers` and
 * a Docker engine; the image is `redis:7` unless `options.image` names another.
 */
export async function startRedisNodes(count: number, options?: StartRedisNodesOptions): Promise<StartedRedisNodes> {
  const settings = resolveRedisNodesSettings(count, options);
  const tc = await loadTestcontainers();
  await checkContainerRuntime(tc);
  const started = await Promise.allSettled(Array.from({ length: settings.count }, (_, index) => ContainerRedisNode.start(index, tc, settings)));
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure !== undefined) {
    await Promise.allSettled(nodes.map((node) => node.dispose()));
    throw failure.reason;
  }
  return new RedisContainerSet(nodes);
}

class RedisContainerSet implements StartedRedisNodes {
  readonly urls: readonly string[];
  private stopping: Promise<void> | undefined;

  constructor(readonly nodes: readonly ContainerRedisNode[]) {
    this.urls = nodes.map((node) => node.url);
  }

  stop(): Promise<void> {
    // Calls while one runs share it; a call after a failed one tries the remaining containers again.
    this.stopping ??= Promise.allSettled(this.nodes.map((node) => node.dispose()))
      .then((results) => {
        const errors = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
        if (errors.length > 0) throw new AggregateError(errors, `startRedisNodes: ${errors.length} container(s) could not be removed`);
      })
      .finally(() => {
        this.stopping = undefined;
      });
    return this.stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
