import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort } from './free-port.js';
import { RedisProcess, RedisStartError } from './redis-process.js';
import { TcpProxy } from './tcp-proxy.js';

export interface StartOptions {
  /**
   * Run with `appendonly yes` + `appendfsync always` (default true): every acknowledged write
   * survives a kill, as the README tells users to run their lock nodes.
   * `false` = no persistence: a restarted node comes back empty, the hazard rule 15 is about.
   */
  persist?: boolean;
  /**
   * Nodes as a new user starts them: `redis-server --port P`, nothing else (the default config:
   * RDB save points, no AOF), each in a data dir of its own. `persist` does not apply.
   */
  plain?: boolean;
}

export interface RestartOptions {
  /** Run with AOF (appendfsync always) from now on; default: as the node was started. */
  persist?: boolean;
  /**
   * What the new server finds in its data dir: 'kept' (the default with persist: its AOF),
   * 'wiped' (the default without: it starts empty, also a durable node on a new disk), or
   * 'snapshot': only the RDB file of the last SAVE, which it loads (writes after it are lost).
   */
  data?: 'kept' | 'wiped' | 'snapshot';
}

export interface RedisNode {
  readonly index: number;
  readonly host: string;
  /** The proxy's port: clients under test connect here, so tests can slow or cut the node. */
  readonly port: number;
  /** redis-server's own port, the same across restarts. */
  readonly directPort: number;
  /** `redis://127.0.0.1:${port}`, via the proxy. */
  readonly url: string;
  /** undefined while the server is not running. */
  readonly pid: number | undefined;
  readonly proxy: TcpProxy;
  /** SIGKILL the redis-server; resolves once it has exited. No-op when not running. */
  kill(): Promise<void>;
  /**
   * Kill if running, then start again on the same directPort. `persist` defaults to how the
   * node was started: true keeps the data of the AOF and runs with AOF from now on; false wipes
   * the data dir and runs without persistence (an empty, non-durable node). Resolves once it
   * answers PING.
   */
  restart(opts?: RestartOptions): Promise<void>;
  /** SIGSTOP: the server keeps its connections but answers nothing. */
  pause(): void;
  /** SIGCONT. No-op when not paused. */
  resume(): void;
  /**
   * A new ioredis client on directPort (bypassing the proxy), with an 'error' listener attached,
   * disconnected by stop(). `overrides` (e.g. commandTimeout) cannot change host or port.
   */
  client(overrides?: RedisOptions): Redis;
  /** FLUSHALL over a direct connection. */
  flush(): Promise<void>;
}

export interface RedisNodes {
  readonly nodes: RedisNode[];
  urls(): string[];
  /**
   * Resume paused nodes, kill every redis-server this set started, close the proxies and the
   * clients from client(), remove the temp dirs. Idempotent; safe after a failed test.
   */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const PORT_ATTEMPTS = 5;

class ManagedNode implements RedisNode {
  readonly host = HOST;
  private paused = false;
  private readonly clients = new Set<Redis>();

  constructor(
    readonly index: number,
    readonly directPort: number,
    readonly proxy: TcpProxy,
    private readonly dir: string,
    private readonly persistent: boolean,
    private readonly plain: boolean,
    private server: RedisProcess,
  ) {}

  get port(): number {
    return this.proxy.port;
  }

  get url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.server.pid;
  }

  async kill(): Promise<void> {
    this.paused = false;
    await this.server.kill();
  }

  async restart(opts: RestartOptions = {}): Promise<void> {
    await this.kill();
    const persist = opts.persist ?? this.persistent;
    const data = opts.data ?? (persist ? 'kept' : 'wiped');
    if (data === 'wiped') await emptyDir(this.dir);
    if (data === 'snapshot') await emptyDir(this.dir, ['dump.rdb']);
    this.server = await RedisProcess.start({ port: this.directPort, dir: this.dir, appendOnly: persist, plain: this.plain });
  }

  pause(): void {
    this.server.signal('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.server.running) this.server.signal('SIGCONT');
  }

  client(overrides: RedisOptions = {}): Redis {
    const client = new Redis({
      lazyConnect: false,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      // ioredis arms a ref'd timer of this length on disconnect() when the socket is already gone
      // (node killed, client reconnecting): the 2 s default keeps jest from exiting promptly.
      disconnectTimeout: 100,
      ...overrides,
      host: HOST,
      port: this.directPort,
    });
    // Tests kill and pause nodes on purpose: connection errors are expected, not crashes.
    client.on('error', () => {});
    this.clients.add(client);
    client.once('end', () => this.clients.delete(client));
    return client;
  }

  async flush(): Promise<void> {
    const client = this.client();
    try {
      await client.flushall();
    } finally {
      client.disconnect();
    }
  }

  async dispose(): Promise<void> {
    // A stopped process dies of SIGKILL too, but resuming first mirrors what tests expect.
    this.resume();
    for (const client of this.clients) if (client.status !== 'end') client.disconnect();
    this.clients.clear();
    await this.proxy.close();
    await this.server.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Starts `count` independent redis-server masters, each behind its own TcpProxy. */
export async function startRedisNodes(count: number, opts: StartOptions = {}): Promise<RedisNodes> {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`startRedisNodes: bad count ${count}`);
  const persistent = opts.plain ? false : (opts.persist ?? true);
  const plain = opts.plain ?? false;
  const started = await Promise.allSettled(Array.from({ length: count }, (_, index) => startNode(index, persistent, plain)));
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure !== undefined) {
    await Promise.allSettled(nodes.map((node) => node.dispose()));
    throw failure.reason;
  }

  let stopping: Promise<void> | undefined;
  return {
    nodes,
    urls: () => nodes.map((node) => node.url),
    stop: () => {
      stopping ??= Promise.allSettled(nodes.map((node) => node.dispose())).then(() => undefined);
      return stopping;
    },
  };
}

async function startNode(index: number, persistent: boolean, plain: boolean): Promise<ManagedNode> {
  const dir = await mkdtemp(join(tmpdir(), `redlock-node${index}-`));
  let server: RedisProcess | undefined;
  try {
    server = await startOnFreePort(dir, persistent, plain);
    const proxy = await TcpProxy.start(server.port, HOST);
    return new ManagedNode(index, server.port, proxy, dir, persistent, plain, server);
  } catch (error) {
    await server?.kill();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A free port can be taken before redis-server binds it: try a fresh one a few times. */
async function startOnFreePort(dir: string, appendOnly: boolean, plain: boolean): Promise<RedisProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await RedisProcess.start({ port: await freePort(HOST), dir, appendOnly, plain });
    } catch (error) {
      if (!(error instanceof RedisStartError && error.addressInUse) || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

/** Remove the contents but keep the directory (mkdtemp made it private to us). */
async function emptyDir(dir: string, keep: readonly string[] = []): Promise<void> {
  const entries = (await readdir(dir)).filter((entry) => !keep.includes(entry));
  await Promise.all(entries.map((entry) => rm(join(dir, entry), { recursive: true, force: true })));
}
