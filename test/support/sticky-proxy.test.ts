import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { RespFrames } from './resp-frames.js';
import { startRedisNodes } from './redis-nodes.js';
import type { RedisNodes } from './redis-nodes.js';

let cluster: RedisNodes | undefined;
afterAll(async () => {
  await cluster?.stop();
});

describe('RespFrames', () => {
  it('splits RESP2 and RESP3 values, also when they arrive in pieces', () => {
    const frames = new RespFrames();
    const stream = '+OK\r\n$3\r\nabc\r\n*2\r\n:1\r\n$-1\r\n%1\r\n+k\r\n*1\r\n_\r\n|1\r\n+a\r\n+b\r\n:7\r\n';
    const got: string[] = [];
    for (let i = 0; i < stream.length; i += 3) got.push(...frames.push(Buffer.from(stream.slice(i, i + 3))).map(String));
    expect(got).toEqual(['+OK\r\n', '$3\r\nabc\r\n', '*2\r\n:1\r\n$-1\r\n', '%1\r\n+k\r\n*1\r\n_\r\n', '|1\r\n+a\r\n+b\r\n:7\r\n']);
  });
});

describe('TcpProxy.keepClientsOnServerLoss', () => {
  it('keeps the client connected across a restart, answers commands in flight with an error, and reaches the new server', async () => {
    cluster = await startRedisNodes(1, { persist: false });
    const node = cluster.nodes[0];
    node.proxy.keepClientsOnServerLoss(true);
    const client = new Redis({ port: node.port, maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    const closes: number[] = [];
    client.on('close', () => closes.push(1));
    try {
      await client.set('a', '1');
      const inFlight = client.blpop('nothing-here', 2).catch((e: Error) => e.message); // blocks: in flight during the restart
      await new Promise((resolve) => setTimeout(resolve, 100));
      await node.restart({ persist: false });
      expect(await inFlight).toMatch(/upstream connection lost/);
      expect(await client.get('a')).toBeNull(); // the new, empty server, on the same connection
      expect(await client.ping()).toBe('PONG');
      expect(closes).toEqual([]);
      expect(client.status).toBe('ready');
    } finally {
      client.disconnect();
    }
  });
});
