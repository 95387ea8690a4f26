import type { Cluster, Redis } from 'ioredis';
import type { LockNode } from './lock-node.js';
import type { LockScript } from './scripts.js';

export type RedisConnection = Redis | Cluster;

export type NodeHealth = 'up' | 'down';

/**
 * A LockNode over an ioredis client. Scripts go by EVALSHA and fall back to EVAL on NOSCRIPT,
 * so a node that restarted with an empty script cache recovers on the first call.
 *
 * It also watches the connection, so a node going down is reported once (not once per
 * command), and fails calls at once while the client is reconnecting instead of queueing them.
 */
export class IoredisNode implements LockNode {
  private health: NodeHealth = 'up';
  private readonly detach: () => void;

  constructor(
    readonly index: number,
    readonly address: string,
    readonly client: RedisConnection,
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

  /** Stop listening to the client (the connection itself is closed, or not, by its owner). */
  dispose(): void {
    this.detach();
  }

  private setHealth(health: NodeHealth, error?: Error): void {
    if (this.health === health) return;
    this.health = health;
    this.onHealthChange(this, health, error);
  }
}
