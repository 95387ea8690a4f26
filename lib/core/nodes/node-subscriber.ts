import type { Cluster, Redis } from 'ioredis';
import { closeConnection, within } from './connections.js';
import type { RedisConnection } from './ioredis-node.js';
import { guardSocketErrors } from './stream-error-guard.js';

/** How long a SUBSCRIBE may take before the waiter stops counting on wake-ups from this node. */
const SUBSCRIBE_BOUND_MS = 1_000;

/**
 * The one pub/sub connection of a Redlock to one node, shared by every waiter: channels are
 * counted, subscribed by the first waiter and unsubscribed when the last one leaves. Opened the
 * first time anyone waits (a program that never waits opens none) and closed by close().
 *
 * A connection in subscriber mode can run nothing else, so it is a duplicate of the node's own
 * client (same address, TLS and credentials). It never throws at a waiter: a node whose
 * subscriber is down just does not count as listening, and waiters fall back to their timer.
 */
export class NodeSubscriber {
  private client: Redis | Cluster | undefined;
  private closed = false;
  /** Waiters per channel. */
  private readonly waiters = new Map<string, number>();
  /** Channels the server has acknowledged (ioredis re-subscribes them after a reconnect). */
  private readonly acknowledged = new Set<string>();
  /** SUBSCRIBEs on their way, by channel. */
  private readonly subscribing = new Map<string, Promise<void>>();

  constructor(
    readonly index: number,
    private readonly source: RedisConnection,
    private readonly onMessage: (node: number, channel: string, message: string) => void,
  ) {}

  /** A wake-up published on `channel` by this node would reach us now. */
  listens(channel: string): boolean {
    return this.client?.status === 'ready' && this.acknowledged.has(channel);
  }

  /**
   * One more waiter on `channel`; resolves once it is subscribed, or once that is known to fail
   * or take too long. A waiter that comes while the first one's SUBSCRIBE is on its way waits
   * for the same answer, so that it too sleeps on wake-ups rather than on its polling timer.
   */
  async add(channel: string): Promise<void> {
    const count = (this.waiters.get(channel) ?? 0) + 1;
    this.waiters.set(channel, count);
    if (this.closed) return;
    if (count > 1) {
      await this.subscribing.get(channel);
      return;
    }
    const client = this.connection();
    if (!client) return;
    const subscribed = within(
      client.subscribe(channel).then(
        () => {
          if (this.waiters.has(channel)) this.acknowledged.add(channel);
        },
        () => undefined,
      ),
      SUBSCRIBE_BOUND_MS,
    ).then(() => {
      if (this.subscribing.get(channel) === subscribed) this.subscribing.delete(channel);
    });
    this.subscribing.set(channel, subscribed);
    await subscribed;
  }

  /** One waiter fewer on `channel`; the last one out unsubscribes. */
  remove(channel: string): void {
    const count = (this.waiters.get(channel) ?? 0) - 1;
    if (count > 0) {
      this.waiters.set(channel, count);
      return;
    }
    this.waiters.delete(channel);
    this.acknowledged.delete(channel);
    if (this.client && !this.closed) this.client.unsubscribe(channel).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    this.waiters.clear();
    this.acknowledged.clear();
    this.subscribing.clear();
    if (client) await closeConnection(client);
  }

  private connection(): Redis | Cluster | undefined {
    if (this.client) return this.client;
    let client: Redis | Cluster;
    try {
      client = isCluster(this.source)
        ? this.source.duplicate()
        : // disconnectTimeout: ioredis keeps a (ref'd) timer this long when quit() disconnects a dead
          // socket; a client the user passed in may carry ioredis's default of 2 s.
          this.source.duplicate({ lazyConnect: true, enableOfflineQueue: true, maxRetriesPerRequest: null, disconnectTimeout: 200 });
    } catch {
      return undefined;
    }
    // A subscriber without an 'error' listener would crash the process when its node goes down.
    client.on('error', ignore);
    client.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(this.index, channel.toString(), message.toString()));
    if (!isCluster(client)) {
      guardSocketErrors(client);
      if (client.status === 'wait') client.connect().catch(() => undefined);
    }
    this.client = client;
    return client;
  }
}

function isCluster(client: RedisConnection): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

function ignore(): void {
  // Down and up again is what `listens` reports; the node's own client reports the outage.
}
