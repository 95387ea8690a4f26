import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { guardChild } from './orphan-guard.js';

const INSTALL_HINT = 'redis-server not found on PATH: install it with `apt-get install -y redis-server` (Debian/Ubuntu)';
const LOG_TAIL_CHARS = 4_000;
const PROBE_TIMEOUT_MS = 500;

/** Absolute path of redis-server, looked up like `which` does; throws with an install hint. */
export function locateRedisServer(pathEnv = process.env.PATH ?? ''): string {
  for (const dir of pathEnv.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  throw new Error(INSTALL_HINT);
}

export interface RedisProcessOptions {
  readonly port: number;
  readonly dir: string;
  /** appendonly yes + appendfsync always: every acknowledged write survives a SIGKILL. */
  readonly appendOnly: boolean;
  readonly startTimeoutMs?: number;
  /**
   * Start it as a new user would: `redis-server --port P` and nothing else, so the default
   * config applies (RDB save points, no AOF, all interfaces with protected mode). `appendOnly`
   * and `extraArgs` are ignored.
   */
  readonly plain?: boolean;
  /** More redis-server arguments (ACL users, a TLS port…), appended as given. */
  readonly extraArgs?: readonly string[];
  /** Credentials the start-up probe sends first (AUTH), for a server whose default user is off. */
  readonly auth?: { readonly user: string; readonly password: string };
}

export class RedisStartError extends Error {
  constructor(
    message: string,
    /** The port was taken between picking it and binding it: pick another and retry. */
    readonly addressInUse: boolean,
  ) {
    super(message);
    this.name = 'RedisStartError';
  }
}

/**
 * One redis-server child process, never daemonized, so we hold its pid and can SIGKILL, SIGSTOP
 * and SIGCONT exactly the process we started.
 */
export class RedisProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly log: { text: string },
    readonly port: number,
    private readonly auth?: RedisProcessOptions['auth'],
  ) {}

  /** Spawns redis-server and resolves once it answers PING; on failure nothing is left running. */
  static async start(options: RedisProcessOptions): Promise<RedisProcess> {
    const args = options.plain ? ['--port', String(options.port)] : [
      '--port', String(options.port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', options.appendOnly ? 'yes' : 'no',
      '--appendfsync', 'always',
      '--dir', options.dir,
      '--daemonize', 'no',
      '--logfile', '',
      '--loglevel', 'warning',
      ...(options.extraArgs ?? []),
    ];
    const child = spawn(locateRedisServer(), args, { cwd: options.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    guardChild(child);
    const log = { text: '' };
    const append = (chunk: Buffer): void => {
      log.text = (log.text + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    // A test that forgets stop() must not keep jest alive; the orphan guard still kills it on exit.
    child.unref();
    // With stdio 'pipe' these are net.Sockets at run time, though typed as plain streams.
    for (const stream of [child.stdout, child.stderr]) (stream as Socket | null)?.unref();
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.on('error', reject);
    });

    const redis = new RedisProcess(child, log, options.port, options.auth);
    try {
      await spawned;
      await redis.waitUntilReady(options.startTimeoutMs ?? 10_000);
      return redis;
    } catch (error) {
      await redis.kill();
      if (error instanceof RedisStartError) throw error;
      throw new RedisStartError(`redis-server on port ${options.port} failed to start: ${String(error)}`, false);
    }
  }

  /** The pid while the process runs; undefined once it exited. */
  get pid(): number | undefined {
    return this.running ? this.child.pid : undefined;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  /** The last few KB of redis-server's own output (its log goes to stdout). */
  logTail(): string {
    return this.log.text;
  }

  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    if (!this.running) throw new Error(`redis-server on port ${this.port} is not running`);
    this.child.kill(signal);
  }

  /** SIGKILL (works on a SIGSTOPped process too) and resolve once it has exited. */
  async kill(): Promise<void> {
    if (!this.running) return;
    // Held while we wait, or a plain Node script awaiting kill() could exit under our feet.
    this.child.ref();
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
    this.child.unref();
  }

  private async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (!this.running) {
        const tail = this.logTail();
        throw new RedisStartError(
          `redis-server on port ${this.port} exited during startup (code ${this.child.exitCode}, signal ${this.child.signalCode}). Log tail:\n${tail}`,
          /Address already in use/i.test(tail),
        );
      }
      const reply = await probe(this.port, this.auth);
      // The pid check makes sure it is our server answering, not whoever won a race for the port.
      if (reply.pong && reply.pid === this.child.pid) return;
      await sleep(10);
    }
    throw new RedisStartError(
      `redis-server on port ${this.port} did not answer PING within ${timeoutMs} ms. Log tail:\n${this.logTail()}`,
      false,
    );
  }
}

interface ProbeReply {
  readonly pong: boolean;
  readonly pid: number | undefined;
}

/**
 * PING plus INFO server over a raw socket. PING alone answers -LOADING while the AOF is replayed;
 * INFO gives the process_id to tell our server from a stranger on the same port. With `auth`,
 * AUTH goes first and must answer +OK.
 */
function probe(port: number, auth?: RedisProcessOptions['auth']): Promise<ProbeReply> {
  const hello = auth ? `+OK\r\n` : '';
  return new Promise((resolve) => {
    let buffer = '';
    const socket = connect({ port, host: '127.0.0.1' });
    const finish = (): void => {
      socket.destroy();
      const pid = /process_id:(\d+)\r\n/.exec(buffer)?.[1];
      resolve({ pong: buffer.startsWith(`${hello}+PONG\r\n`), pid: pid === undefined ? undefined : Number(pid) });
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, finish);
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('connect', () => {
      if (auth) socket.write(command('AUTH', auth.user, auth.password));
      socket.write('PING\r\nINFO server\r\n');
    });
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      if (/process_id:\d+\r\n/.test(buffer)) finish();
    });
  });
}

/** A command in RESP, so any byte of a password is sent as it is. */
function command(...parts: string[]): string {
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
}
