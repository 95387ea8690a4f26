import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { awaitPong } from './await-pong.js';
import { freeHostPort } from './free-host-port.js';
import type { TestcontainersModule } from './load-testcontainers.js';
import type { RedisNodesSettings } from './redis-container-options.js';

/** running, paused (frozen: holds its connections, answers nothing), killed (no container), stopped (for good). */
export type RedisNodeState = 'running' | 'paused' | 'killed' | 'stopped';

/** One Redis node of `startRedisNodes`, in a container of its own. */
export interface StartedRedisNode {
  /** Position in `nodes`, as in the node list you pass on. */
  readonly index: number;
  readonly host: string;
  /** The mapped port on `host`; kept across `restartEmpty()`, so clients reconnect by themselves. */
  readonly port: number;
  /** `redis://host:port`, for `nodes` of `RedlockModule.forRoot` or `new Redlock`. */
  readonly url: string;
  readonly state: RedisNodeState;
  /** The current container's id; undefined while killed or after stop(). */
  readonly containerId: string | undefined;
  /** SIGKILL the node (container removed): its connections drop and it stays down. No-op when killed. */
  kill(): Promise<void>;
  /**
   * Kill it if it runs, then start a new Redis with no data on the same port: what a node without
   * persistence looks like after a crash. Resolves once it answers PING.
   */
  restartEmpty(): Promise<void>;
  /** Freeze the node (`docker pause`): connections stay open, commands get no answer. */
  pause(): Promise<void>;
  /** Thaw it; no-op unless paused. */
  unpause(): Promise<void>;
}

/** Every container of startRedisNodes carries it, so leftovers can be found: `docker ps -a --filter label=nestjs-redlock.testing`. */
export const CONTAINER_LABEL = 'nestjs-redlock.testing';
const REDIS_PORT = 6379;
// A node without persistence (restartEmpty must come back empty), reachable through the port
// mapping from outside the container (protected mode refuses any client but loopback).
const REDIS_COMMAND = ['redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];
const FREE_PORT_ATTEMPTS = 5;
// The port a killed container held can stay taken for a moment after its removal (a client's
// connection attempt on it, say).
const SAME_PORT_ATTEMPTS = 20;
const SAME_PORT_RETRY_MS = 100;

interface Launched {
  readonly name: string;
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export class ContainerRedisNode implements StartedRedisNode {
  private current: Launched | undefined;
  private paused = false;
  private stopped = false;
  // One fault at a time per node, and stop() after whatever is under way.
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly index: number,
    readonly host: string,
    readonly port: number,
    private readonly tc: TestcontainersModule,
    private readonly settings: RedisNodesSettings,
    launched: Launched,
  ) {
    this.current = launched;
  }

  /** On a free port (another one if it was taken meanwhile), which its later containers ask for again. */
  static async start(index: number, tc: TestcontainersModule, settings: RedisNodesSettings): Promise<ContainerRedisNode> {
    for (let attempt = 1; ; attempt++) {
      try {
        const launched = await launch(index, tc, settings, await freeHostPort());
        return new ContainerRedisNode(index, launched.host, launched.port, tc, settings, launched);
      } catch (error) {
        if (!isPortTaken(error) || attempt >= FREE_PORT_ATTEMPTS) throw error;
      }
    }
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  get state(): RedisNodeState {
    if (this.stopped) return 'stopped';
    if (this.current === undefined) return 'killed';
    return this.paused ? 'paused' : 'running';
  }

  get containerId(): string | undefined {
    return this.current?.id;
  }

  kill(): Promise<void> {
    return this.serially('kill', () => this.removeContainer());
  }

  restartEmpty(): Promise<void> {
    return this.serially('restartEmpty', async () => {
      await this.removeContainer();
      this.current = await this.launchOnSamePort();
    });
  }

  pause(): Promise<void> {
    return this.serially('pause', async () => {
      if (this.current === undefined) throw new Error(`Redis node ${this.index} is not running (killed), so it cannot be paused`);
      if (this.paused) return;
      await (await runtimeContainer(this.tc, this.current.id)).pause();
      this.paused = true;
    });
  }

  unpause(): Promise<void> {
    return this.serially('unpause', async () => {
      if (this.current === undefined || !this.paused) return;
      await (await runtimeContainer(this.tc, this.current.id)).unpause();
      this.paused = false;
    });
  }

  /** Remove the container for good, after the fault under way if any; later faults are refused. */
  dispose(): Promise<void> {
    this.stopped = true;
    // Also after a failed fault or a failed removal: calling again tries again.
    const removal = this.queue.catch(() => undefined).then(() => this.removeContainer());
    this.queue = removal;
    return removal;
  }

  private serially(what: string, operation: () => Promise<void>): Promise<void> {
    const run = this.queue.catch(() => undefined).then(() => {
      if (this.stopped) throw new Error(`Redis node ${this.index} was stopped: ${what}() is no longer possible`);
      return operation();
    });
    this.queue = run;
    return run;
  }

  private async removeContainer(): Promise<void> {
    if (this.current === undefined) return;
    await removeByName(this.tc, this.current.name);
    this.current = undefined;
    this.paused = false;
  }

  private async launchOnSamePort(): Promise<Launched> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await launch(this.index, this.tc, this.settings, this.port);
      } catch (error) {
        if (!isPortTaken(error) || attempt >= SAME_PORT_ATTEMPTS) throw error;
        await sleep(SAME_PORT_RETRY_MS);
      }
    }
  }

}

/**
 * One container: created under a name of our own, so that whatever fails after the create
 * (a taken port, no answer), the container can still be found and removed.
 */
async function launch(index: number, tc: TestcontainersModule, settings: RedisNodesSettings, hostPort: number): Promise<Launched> {
  const name = `nestjs-redlock-node${index}-${randomUUID().slice(0, 8)}`;
  const started = performance.now();
  try {
    const container = await new tc.GenericContainer(settings.image)
      .withName(name)
      .withLabels({ ...settings.labels, [CONTAINER_LABEL]: 'redis-node' })
      .withCommand(REDIS_COMMAND)
      .withExposedPorts({ container: REDIS_PORT, host: hostPort })
      .withWaitStrategy(tc.Wait.forLogMessage(/Ready to accept connections/))
      .withStartupTimeout(settings.startupTimeoutMs)
      .start();
    const host = reachableHost(container.getHost());
    const port = container.getMappedPort(REDIS_PORT);
    await awaitPong(host, port, Math.max(1, settings.startupTimeoutMs - (performance.now() - started)));
    return { name, id: container.getId(), host, port };
  } catch (error) {
    await removeByName(tc, name).catch(() => undefined);
    throw explain(error, index, settings.image, hostPort);
  }
}

/** The engine's handle on a container, for what testcontainers has no call of its own (pause). */
async function runtimeContainer(tc: TestcontainersModule, id: string) {
  return (await tc.getContainerRuntimeClient()).container.getById(id);
}

/** Force-remove (SIGKILL first, paused or not); a container that is already gone is fine. */
async function removeByName(tc: TestcontainersModule, name: string): Promise<void> {
  const client = await tc.getContainerRuntimeClient();
  try {
    await client.container.getById(name).remove({ force: true, v: true });
  } catch (error) {
    if ((error as { statusCode?: unknown }).statusCode !== 404) throw error;
  }
}

/**
 * testcontainers says `localhost` for a local engine; Docker publishes the port on 0.0.0.0, so
 * the IPv4 loopback address always reaches it, whatever `localhost` resolves to first.
 */
function reachableHost(host: string): string {
  return host === 'localhost' ? '127.0.0.1' : host;
}

function isPortTaken(error: unknown): boolean {
  const text = `${(error as Error)?.message ?? ''} ${String((error as Error)?.cause ?? '')}`;
  return /port is already allocated|address already in use/i.test(text);
}

function explain(error: unknown, index: number, image: string, hostPort: number): Error {
  const message = error instanceof Error ? error.message : String(error);
  const hint = /pull|manifest|not found|no such image|registry|dial tcp|lookup/i.test(message)
    ? ` (is the image "${image}" on this machine, or can it be pulled? Pass another with options.image)`
    : '';
  return new Error(`startRedisNodes: Redis node ${index} (image ${image}) on port ${hostPort} did not start: ${message}${hint}`, { cause: error });
}
