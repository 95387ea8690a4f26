import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { lockScript } from '../../lib/core/nodes/lock-script.js';
import type { LockScript } from '../../lib/core/nodes/lock-script.js';
import { ScriptBatch } from '../../lib/core/nodes/script-batch.js';
import { TurnQueue } from '../../lib/core/nodes/turn-queue.js';
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
function countWrites(stream: Socket): { readonly writes: number } {
  const counts = { writes: 0 };
  const socket = stream as Socket & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const write = socket._write.bind(socket);
  const writev = socket._writev.bind(socket);
  socket._write = (...args: unknown[]) => {
    counts.writes += 1;
    write(...args);
  };
  socket._writev = (...args: unknown[]) => {
    counts.writes += 1;
    writev(...args);
  };
  return counts;
}

/** Counts the commands ioredis sends on this client, by name. */
function countCommands(client: Redis): Map<string, number> {
  const counts = new Map<string, number>();
  const send = client.sendCommand.bind(client);
  (client as unknown as { sendCommand: unknown }).sendCommand = (command: { name: string }, ...rest: unknown[]) => {
    counts.set(command.name, (counts.get(command.name) ?? 0) + 1);
    return (send as (...a: unknown[]) => unknown)(command, ...rest);
  };
  return counts;
}

const WRITE = lockScript('test-write', "redis.call('SET', KEYS[1], ARGV[1]) return 1");
const READ = lockScript('test-read', "return redis.call('GET', KEYS[1])");
const FAILS = lockScript('test-fails', "return redis.call('INCR', KEYS[1])");
const ALONE = lockScript('test-alone', "return 'alone:' .. (redis.call('GET', KEYS[1]) or 'nil')");

function queueOn(client: Redis, batch: ScriptBatch | undefined): TurnQueue {
  const send = async (script: LockScript, keys: readonly string[], args: readonly (string | number)[]) => {
    try {
      return await client.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await client.eval(script.source, keys.length, ...keys, ...args);
    }
  };
  return new TurnQueue(batch, send, () => client.stream as Socket);
}

describe('TurnQueue and ScriptBatch', () => {
  it('calls made in one turn run in order, as one batch command in one write; each gets its own reply', async () => {
    const client = new Redis(nodes.nodes[0]!.url);
    try {
      await client.ping();
      const queue = queueOn(client, new ScriptBatch([WRITE, READ, FAILS]));
      const writes = countWrites(client.stream as Socket);
      const commands = countCommands(client);
      await client.set('tq:number', '1');
      const replies = Promise.allSettled([
        queue.call(WRITE, ['tq:a'], ['v1']),
        queue.call(READ, ['tq:a'], []),
        queue.call(FAILS, ['tq:a'], []), // INCR on 'v1': this call alone fails
        queue.call(WRITE, ['tq:a'], ['v2']),
        queue.call(READ, ['tq:a'], []),
        queue.call(READ, ['tq:missing'], []), // nil stays a null reply in its place
        queue.call(FAILS, ['tq:number'], []),
      ]);
      const settled = await replies;
      expect(settled.map((r) => (r.status === 'fulfilled' ? r.value : 'error'))).toEqual([1, 'v1', 'error', 1, 'v2', null, 2]);
      expect(String((settled[2] as PromiseRejectedResult).reason)).toMatch(/not an integer/);
      expect([...commands.entries()]).toEqual([['set', 1], ['evalsha', 1], ['eval', 1]]); // the batch's first run loads it
      expect(writes.writes).toBeLessThanOrEqual(3);
    } finally {
      client.disconnect();
    }
  });

  it('a call the batch does not carry goes alone, keeping its place in the order', async () => {
    const client = new Redis(nodes.nodes[0]!.url);
    try {
      const queue = queueOn(client, new ScriptBatch([WRITE, READ]));
      const replies = await Promise.all([
        queue.call(WRITE, ['tq:b'], ['first']),
        queue.call(ALONE, ['tq:b'], []),
        queue.call(WRITE, ['tq:b'], ['second']),
        queue.call(READ, ['tq:b'], []),
      ]);
      expect(replies).toEqual([1, 'alone:first', 1, 'second']);
    } finally {
      client.disconnect();
    }
  });

  it('a lone call is sent as itself, not as a batch; without a batch every call goes alone', async () => {
    const client = new Redis(nodes.nodes[0]!.url);
    try {
      await client.ping();
      const batched = queueOn(client, new ScriptBatch([WRITE, READ]));
      const plain = queueOn(client, undefined);
      await batched.call(WRITE, ['tq:c'], ['x']); // loads WRITE
      const commands = countCommands(client);
      expect(await batched.call(READ, ['tq:c'], [])).toBe('x');
      expect(await Promise.all([plain.call(READ, ['tq:c'], []), plain.call(READ, ['tq:c'], [])])).toEqual(['x', 'x']);
      expect(commands.get('evalsha')).toBe(3);
    } finally {
      client.disconnect();
    }
  });

  it("keys that calls end with (the node's guard keys) go once per batch, and each call still gets all its keys, in order", async () => {
    const client = new Redis(nodes.nodes[0]!.url);
    try {
      const ECHO = lockScript('test-echo', 'return {KEYS, ARGV}');
      const tail = ['g:1', 'g:2'];
      const batch = new ScriptBatch([ECHO]);
      const calls = [
        { script: ECHO, keys: ['a', 'g:1', 'g:2'], args: ['x', 1] },
        { script: ECHO, keys: ['b', 'c'], args: [] },
        { script: ECHO, keys: ['g:1', 'g:2'], args: ['y'] },
        { script: ECHO, keys: ['g:2'], args: ['z'] },
      ];
      const { keys } = batch.layout(calls, tail);
      expect(keys).toEqual(['g:1', 'g:2', 'a', 'b', 'c', 'g:2']);
      const queue = new TurnQueue(batch, (script, k, a) => client.eval(script.source, k.length, ...k, ...a), () => client.stream as Socket, tail);
      const replies = await Promise.all(calls.map((c) => queue.call(c.script, c.keys, c.args)));
      expect(replies).toEqual([
        [['a', 'g:1', 'g:2'], ['x', '1']],
        [['b', 'c'], []],
        [['g:1', 'g:2'], ['y']],
        [['g:2'], ['z']],
      ]);
    } finally {
      client.disconnect();
    }
  });

  it('a batch answered with the wrong number of replies fails every call in it (a connection out of step)', () => {
    const batch = new ScriptBatch([WRITE]);
    const answers = batch.answers([1], 2);
    expect(answers).toHaveLength(2);
    for (const answer of answers) expect(String(answer)).toMatch(/out of step/);
    expect(String(batch.answers('OK', 1)[0])).toMatch(/out of step/);
  });

  it('a Redlock under load sends its calls to a node in a few commands and writes, not one per call', async () => {
    const clients = nodes.urls().map((url) => new Redis(url));
    const redlock = new Redlock(clients, { ttl: 5_000 });
    try {
      await (await redlock.acquire('warm')).release();
      const writes = clients.map((c) => countWrites(c.stream as Socket));
      const commands = clients.map(countCommands);
      const locks = await Promise.all(Array.from({ length: 64 }, (_, i) => redlock.acquire(`turn-queue:${i}`)));
      expect(new Set(locks.map((l) => l.value)).size).toBe(64);
      expect((await Promise.all(locks.map((l) => l.release()))).every((r) => r.released && r.nodes === 3)).toBe(true);
      for (const [index, count] of commands.entries()) {
        expect([...count.values()].reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(8);
        expect(writes[index]!.writes).toBeLessThanOrEqual(8);
      }
      // Every lock was really taken and given up on every node.
      for (const client of clients) expect(await client.keys('lock:turn-queue:*')).toEqual([]);
    } finally {
      await redlock.quit();
      await Promise.all(clients.map((c) => c.quit()));
    }
  });
});
