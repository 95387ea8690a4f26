import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { coalesceWritesThisTurn } from '../../lib/core/nodes/turn-writes.js';
import { Redlock } from '../../lib/core/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';

let nodes: RedisNodes;
beforeAll(async () => {
  nodes = await startRedisNodes(3, { plain: true });
});
afterAll(async () => {
  await nodes?.stop();
});

/** Counts the socket's writes as they reach the kernel: one per _write, one per _writev. */
function countWrites(stream: Socket): { readonly writes: number; readonly chunks: number } {
  const counts = { writes: 0, chunks: 0 };
  const socket = stream as Socket & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const write = socket._write.bind(socket);
  const writev = socket._writev.bind(socket);
  socket._write = (...args: unknown[]) => {
    counts.writes += 1;
    counts.chunks += 1;
    write(...args);
  };
  socket._writev = (...args: unknown[]) => {
    counts.writes += 1;
    counts.chunks += (args[0] as unknown[]).length;
    writev(...args);
  };
  return counts;
}

describe('coalesceWritesThisTurn', () => {
  it('commands written in one turn leave in one write, replies unchanged; the socket is uncorked on the next tick', async () => {
    const client = new Redis(nodes.urls()[0]!);
    try {
      await client.ping();
      const counts = countWrites(client.stream as Socket);
      const replies = Array.from({ length: 50 }, (_, i) => {
        coalesceWritesThisTurn(client.stream as Socket);
        return client.echo(`m${i}`);
      });
      expect((client.stream as Socket).writableCorked).toBe(1); // once, however often it was asked
      expect(await Promise.all(replies)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
      expect(counts).toEqual({ writes: 1, chunks: 50 });
      expect((client.stream as Socket).writableCorked).toBe(0);
      // A lone command: one write, as without it.
      coalesceWritesThisTurn(client.stream as Socket);
      expect(await client.echo('alone')).toBe('alone');
      expect(counts).toEqual({ writes: 2, chunks: 51 });
    } finally {
      client.disconnect();
    }
  });

  it('leaves alone what has no cork()', () => {
    expect(() => coalesceWritesThisTurn(undefined)).not.toThrow();
    expect(() => coalesceWritesThisTurn({} as Socket)).not.toThrow();
  });

  it('a Redlock under load sends its calls to a node in a few writes, not one per call', async () => {
    const clients = nodes.urls().map((url) => new Redis(url));
    const redlock = new Redlock(clients, { ttl: 5_000 });
    try {
      await (await redlock.acquire('warm')).release();
      const counts = clients.map((c) => countWrites(c.stream as Socket));
      await Promise.all(Array.from({ length: 64 }, async (_, i) => (await redlock.acquire(`turn-writes:${i}`)).release()));
      for (const count of counts) {
        expect(count.chunks).toBe(128); // a take and a release per lock
        expect(count.writes).toBeLessThanOrEqual(8);
      }
    } finally {
      await redlock.quit();
      await Promise.all(clients.map((c) => c.quit()));
    }
  });
});
