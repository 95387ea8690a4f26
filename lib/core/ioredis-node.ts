import type { Cluster, Redis } from 'ioredis';
import type { LockNode } from './lock-node.js';
import { NodeRestartGuard, parseInfo } from './node-restart-guard.js';
import type { LockScript } from './scripts.js';

export type RedisConnection = Redis | Cluster;

export type NodeHealth = 'up' | 'down';

const FIRST_CONTACT_MS = 2_000;

function firstContactOf(client: RedisConnection): Promise<void> {
  const status = (client as Redis).status;
  // 'wait' = lazyConnect: the first command connects it. Ready or ended: nothing to wait for.
  if (status === 'ready' || status === 'wait' || status === 'end') return Promise.resolve();
  return new Promise((resolve) => {
    const settle = () => {
      clearTimeout(timer);
      client.off('ready', settle);
      client.off('error', settle);
      client.off('end', settle);
      resolve();
    };
    const timer = setTimeout(settle, FIRST_CONTACT_MS);
    timer.unref();
    client.once('ready', settle);
    client.once('error', settle);
    client.once('end', settle);
  });
}

/**
 * A LockNode over an ioredis client. Scripts go by EVALSHA and fall back to EVAL on NOSCRIPT,
 * so a node that restarted with an empty script cache recovers on the first call.
 *
 * It also watches the connection, so a node going down is reported once (not once per
 * command), fails calls at once while the client is reconnecting instead of queueing them,
 * and on every (re)connection learns the server's uptime and durability for the restart guard.
 */
export class IoredisNode implements LockNode {
  private health: NodeHealth = 'up';
  private readonly detach: () => void;
  /** Bumped on every connection change, so a late INFO answer cannot describe a newer server. */
  private generation = 0;
  /** The INFO round trip under way since the last (re)connection, if any. */
  private learning: Promise<void> | undefined;
  /**
   * Settles when the client first connected, failed, or after FIRST_CONTACT_MS: the first
   * acquire waits for it, so setting up a connection is not charged to the per-node timeout.
   */
  readonly firstContact: Promise<void>;

  constructor(
    readonly index: number,
    readonly address: string,
    readonly client: RedisConnection,
    private readonly guard: NodeRestartGuard,
    private readonly onHealthChange: (node: IoredisNode, health: NodeHealth, error?: Error) => void,
  ) {
    // An ioredis client without an 'error' listener crashes the process when its node goes
    // down; our listener keeps the process alive and turns it into a health change.
    const onError = (error: Error) => this.setHealth('down', error);
    const onClose = () => {
      this.generation += 1;
      this.guard.forget();
      this.setHealth('down');
    };
    const onReady = () => {
      this.setHealth('up');
      this.learning = this.learnServerFacts();
    };
    client.on('error', onError);
    client.on('close', onClose);
    client.on('ready', onReady);
    this.detach = () => {
      client.off('error', onError);
      client.off('close', onClose);
      client.off('ready', onReady);
    };
    if ((client as Redis).status === 'ready') this.learning = this.learnServerFacts();
    this.firstContact = firstContactOf(client);
  }

  async run(script: LockScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const status = (this.client as Redis).status;
    if (status === 'reconnecting' || status === 'end' || status === 'close') {
      throw new Error(`node ${this.address} is not connected (${status})`);
    }
    try {
      return await this.client.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await this.client.eval(script.source, keys.length, ...keys, ...args);
    }
  }

  /** Waits for what the (re)connection is still finding out, then asks the guard. */
  async acquireVeto(): Promise<string | undefined> {
    await this.learning;
    return this.guard.vetoReason();
  }

  /** Stop listening to the client (the connection itself is closed, or not, by its owner). */
  dispose(): void {
    this.generation += 1;
    this.detach();
  }

  private async learnServerFacts(): Promise<void> {
    const generation = ++this.generation;
    const { clock } = this.guard;
    let facts;
    try {
      // One round trip: INFO for uptime and AOF, CONFIG GET for the fsync policy (may be refused).
      const replies = (await this.client.pipeline().info().config('GET', 'appendfsync').exec()) ?? [];
      const [infoError, info] = replies[0] ?? [new Error('no INFO reply')];
      if (infoError) throw infoError;
      const parsed = parseInfo(String(info));
      const [configError, fsync] = replies[1] ?? [new Error('no CONFIG reply')];
      const durable = parsed.aofEnabled && !configError && (fsync as string[])[1] === 'always';
      // uptime_in_seconds is rounded down, so the estimate errs towards a later start: safe.
      facts = { startedAt: clock.now() - (parsed.uptimeSeconds ?? 0) * 1_000, durable, runId: parsed.runId };
    } catch {
      // INFO refused (ACL) or the connection went away: assume it restarted just now.
      facts = { startedAt: clock.now(), durable: false, runId: undefined };
    }
    if (generation === this.generation) this.guard.learn(facts);
  }

  private setHealth(health: NodeHealth, error?: Error): void {
    if (this.health === health) return;
    this.health = health;
    this.onHealthChange(this, health, error);
  }
}
