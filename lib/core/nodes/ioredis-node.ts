import type { Cluster, Redis } from 'ioredis';
import type { LockNode } from './lock-node.js';
import type { LockScript } from './lock-script.js';

export type RedisConnection = Redis | Cluster;

export type NodeHealth = 'up' | 'down';

const FIRST_CONTACT_MS = 2_000;

/** Calls in a row that a node left unanswered before it counts as down (and is no longer waited on). */
const UNRESPONSIVE_AFTER_TIMEOUTS = 3;

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

/** Rule 15: how a node that answers NOSCRIPT asks the boot sentinel (guard-scripts.ts) whether its server is new. */
export interface BootCheck {
  readonly sentinel: LockScript;
  /** The node's marker, quarantine and generation keys. */
  readonly keys: readonly string[];
  /** A new generation id, for a node found restarted. */
  readonly newGeneration: () => string;
  /** The least time a restarted node stays out, ms (the sentinel uses the lease it recorded, if longer). */
  readonly window: () => number;
}

/**
 * A LockNode over an ioredis client. Scripts go by EVALSHA and fall back to EVAL on NOSCRIPT,
 * so a node that restarted with an empty script cache recovers on the first call; before that
 * fallback the boot sentinel runs, so a new server process is quarantined before any of our
 * scripts runs on it (in band, so also behind a proxy that keeps our connection open).
 *
 * It also watches the connection, so a node going down is reported once (not once per
 * command) and calls fail at once while the client is reconnecting instead of queueing them.
 */
export class IoredisNode implements LockNode {
  private health: NodeHealth = 'up';
  private readonly detach: () => void;
  /** The boot check under way, shared by every call that met NOSCRIPT meanwhile. */
  private checkingBoot: Promise<void> | undefined;
  /** Rounds in a row that gave up on this node's reply. */
  private timeoutsInARow = 0;
  /** Connected but answering nothing (a SIGSTOPped or hung server): calls fail at once until it answers again. */
  private unresponsive = false;
  /**
   * Settles when the client first connected, failed, or after FIRST_CONTACT_MS: the first
   * acquire waits for it, so setting up a connection is not charged to the per-node timeout.
   */
  readonly firstContact: Promise<void>;

  constructor(
    readonly index: number,
    readonly address: string,
    readonly client: RedisConnection,
    private readonly boot: BootCheck,
    private readonly onHealthChange: (node: IoredisNode, health: NodeHealth, error?: Error) => void,
  ) {
    // An ioredis client without an 'error' listener crashes the process when its node goes
    // down; our listener keeps the process alive and turns it into a health change.
    const onError = (error: Error) => this.setHealth('down', error);
    const onClose = () => this.setHealth('down');
    const onReady = () => this.setHealth('up');
    client.on('error', onError);
    client.on('close', onClose);
    client.on('ready', onReady);
    this.detach = () => {
      client.off('error', onError);
      client.off('close', onClose);
      client.off('ready', onReady);
    };
    this.firstContact = firstContactOf(client);
  }

  async run(script: LockScript, keys: readonly string[], args: readonly (string | number)[], mustReach = false): Promise<unknown> {
    const status = (this.client as Redis).status;
    if (status === 'reconnecting' || status === 'end' || status === 'close') {
      throw new Error(`node ${this.address} is not connected (${status})`);
    }
    if (this.unresponsive) {
      // Behind whatever is stuck on the connection: an attempt that did reach the node is given up too.
      if (mustReach) this.client.evalsha(script.sha, keys.length, ...keys, ...args).catch(() => undefined);
      throw new Error(`node ${this.address} is not answering (${UNRESPONSIVE_AFTER_TIMEOUTS} calls in a row had no reply in time)`);
    }
    try {
      const reply = await this.client.evalsha(script.sha, keys.length, ...keys, ...args);
      this.answered();
      return reply;
    } catch (error) {
      if (isReplyError(error)) this.answered();
      if (!isNoScript(error)) throw error;
      await this.checkBoot();
      return await this.client.eval(script.source, keys.length, ...keys, ...args);
    }
  }

  /**
   * A node that leaves call after call unanswered is reported down and not waited on again
   * until it answers: every round would otherwise pay the full node timeout for it. A PING stays
   * in flight meanwhile, so its answer (or any late reply) brings the node back.
   */
  noteTimeout(ms: number): void {
    this.timeoutsInARow += 1;
    if (this.unresponsive || this.timeoutsInARow < UNRESPONSIVE_AFTER_TIMEOUTS) return;
    this.unresponsive = true;
    this.setHealth('down', new Error(`no reply within ${ms} ms, ${this.timeoutsInARow} calls in a row`));
    this.client.ping().then(
      () => this.answered(),
      () => this.answered(),
    );
  }

  private answered(): void {
    this.timeoutsInARow = 0;
    if (!this.unresponsive) return;
    this.unresponsive = false;
    // A failed connection reports itself through close / ready; only a live one is up again now.
    if ((this.client as Redis).status === 'ready') this.setHealth('up');
  }

  /** Stop listening to the client (the connection itself is closed, or not, by its owner). */
  dispose(): void {
    this.detach();
  }

  /** Rule 15: NOSCRIPT for the sentinel too means a new server process: it quarantines itself. */
  private checkBoot(): Promise<void> {
    this.checkingBoot ??= (async () => {
      const { sentinel, keys, window, newGeneration } = this.boot;
      try {
        await this.client.evalsha(sentinel.sha, keys.length, ...keys, '0', window(), '');
      } catch (error) {
        if (!isNoScript(error)) throw error;
        await this.client.eval(sentinel.source, keys.length, ...keys, '1', window(), newGeneration());
      }
    })().finally(() => {
      this.checkingBoot = undefined;
    });
    return this.checkingBoot;
  }

  private setHealth(health: NodeHealth, error?: Error): void {
    if (this.health === health) return;
    this.health = health;
    this.onHealthChange(this, health, error);
  }
}

/** An error the server itself sent (it is answering), as opposed to a connection failure. */
function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
