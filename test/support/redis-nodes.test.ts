import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { startRedisNodes, type RedisNodes } from './redis-nodes.js';

/** True while a process with this pid exists (signal 0 only checks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tcpConnect(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** A client of the code under test: through the proxy, so proxy faults reach it. */
function viaProxy(set: RedisNodes, index: number, extra: Record<string, unknown> = {}): Redis {
  const client = new Redis(set.nodes[index]!.url, { maxRetriesPerRequest: 1, disconnectTimeout: 100, ...extra });
  client.on('error', () => {});
  proxied.add(client);
  return client;
}
const proxied = new Set<Redis>();

afterEach(() => {
  for (const client of proxied) if (client.status !== 'end') client.disconnect();
  proxied.clear();
});

describe('startRedisNodes', () => {
  let set: RedisNodes;

  beforeAll(async () => {
    set = await startRedisNodes(3);
  });

  afterAll(async () => {
    await set.stop();
  });

  afterEach(() => {
    for (const node of set.nodes) {
      node.resume();
      node.proxy.reset();
    }
  });

  it('starts independent nodes on distinct free ports, never 6379', async () => {
    const ports = set.nodes.flatMap((node) => [node.port, node.directPort]);
    expect(new Set(ports).size).toBe(6);
    expect(ports).not.toContain(6379);
    expect(set.urls()).toEqual(set.nodes.map((node) => `redis://127.0.0.1:${node.port}`));
    expect(set.nodes.map((node) => node.index)).toEqual([0, 1, 2]);
    for (const node of set.nodes) {
      expect(node.host).toBe('127.0.0.1');
      expect(alive(node.pid!)).toBe(true);
      await expect(node.client().ping()).resolves.toBe('PONG');
    }
    // Independent masters: a write on one is not visible on another.
    await set.nodes[0]!.client().set('only-on-0', '1');
    await expect(set.nodes[1]!.client().exists('only-on-0')).resolves.toBe(0);
    await set.nodes[0]!.flush();
    await expect(set.nodes[0]!.client().dbsize()).resolves.toBe(0);
  });

  it('clients via url reach the same server as the direct client', async () => {
    const node = set.nodes[1]!;
    await viaProxy(set, 1).set('via-proxy', 'yes');
    await expect(node.client().get('via-proxy')).resolves.toBe('yes');
    await node.flush();
  });

  it('pause makes commands time out; resume makes the node answer again', async () => {
    const node = set.nodes[2]!;
    const client = node.client({ commandTimeout: 150 });
    await expect(client.ping()).resolves.toBe('PONG');
    node.pause();
    await expect(client.ping()).rejects.toThrow(/timed out/i);
    node.resume();
    await expect(client.ping()).resolves.toBe('PONG');
  });

  it('proxy latency delays a PING', async () => {
    const node = set.nodes[0]!;
    const client = viaProxy(set, 0);
    await client.ping();
    node.proxy.setLatency(100);
    const t0 = performance.now();
    await client.ping();
    // 100 ms each way.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it('proxy stall holds a reply until unstall', async () => {
    const node = set.nodes[0]!;
    const client = viaProxy(set, 0);
    await client.ping();
    node.proxy.stall();
    let answered = false;
    const reply = client.ping().then((value) => {
      answered = true;
      return value;
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(answered).toBe(false);
    node.proxy.unstall();
    await expect(reply).resolves.toBe('PONG');
  });

  it('proxy dropConnections makes the client see the connection close', async () => {
    const node = set.nodes[1]!;
    const client = viaProxy(set, 1);
    await client.ping();
    const sawClose = new Promise<void>((resolve) => client.once('close', () => resolve()));
    node.proxy.dropConnections();
    await sawClose;
    // ioredis reconnects on its own afterwards.
    await expect(client.ping()).resolves.toBe('PONG');
  });

  it('proxy refuse keeps clients out until switched off', async () => {
    const node = set.nodes[2]!;
    node.proxy.refuse(true);
    const client = viaProxy(set, 2, { retryStrategy: () => null, enableOfflineQueue: false });
    await new Promise<void>((resolve) => client.once('end', () => resolve()));
    await expect(client.ping()).rejects.toThrow();
    node.proxy.refuse(false);
    await expect(viaProxy(set, 2).ping()).resolves.toBe('PONG');
  });

  it('kill() stops the server; restart({ persist: false }) brings it back empty on the same port', async () => {
    const node = set.nodes[1]!;
    const directPort = node.directPort;
    await node.client().set('survives', 'no');
    const oldPid = node.pid!;
    await node.kill();
    expect(node.pid).toBeUndefined();
    expect(alive(oldPid)).toBe(false);
    await node.kill(); // No-op when not running.

    await node.restart({ persist: false });
    expect(node.directPort).toBe(directPort);
    expect(node.pid).not.toBe(oldPid);
    await expect(node.client().get('survives')).resolves.toBeNull();
    await expect(viaProxy(set, 1).ping()).resolves.toBe('PONG');
  });
});

describe('startRedisNodes({ persist: true })', () => {
  let set: RedisNodes;

  beforeAll(async () => {
    set = await startRedisNodes(1, { persist: true });
  });

  afterAll(async () => {
    await set.stop();
  });

  it('kill -9 then restart({ persist: true }) keeps acknowledged writes and their TTLs', async () => {
    const node = set.nodes[0]!;
    const client = node.client();
    await client.set('lock:a', 'owner', 'PX', 60_000);
    await client.set('plain', 'value');
    await node.kill();
    await node.restart({ persist: true });
    const after = node.client();
    await expect(after.get('lock:a')).resolves.toBe('owner');
    const ttl = await after.pttl('lock:a');
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await expect(after.get('plain')).resolves.toBe('value');
  });

  it('restart({ persist: false }) wipes the data and runs without AOF; restart() goes back to AOF', async () => {
    const node = set.nodes[0]!;
    await node.client().set('gone', '1');
    await node.restart({ persist: false });
    await expect(node.client().dbsize()).resolves.toBe(0);
    await expect(node.client().config('GET', 'appendonly')).resolves.toEqual(['appendonly', 'no']);
    await node.restart();
    await expect(node.client().config('GET', 'appendfsync')).resolves.toEqual(['appendfsync', 'always']);
    await node.client().set('kept', '1');
    await node.kill();
    await node.restart();
    await expect(node.client().get('kept')).resolves.toBe('1');
  });
});

describe('stop()', () => {
  it('kills exactly our servers (also paused ones), closes proxies and is idempotent', async () => {
    const set = await startRedisNodes(2);
    const pids = set.nodes.map((node) => node.pid!);
    const proxyPorts = set.nodes.map((node) => node.port);
    set.nodes[0]!.pause();
    const client = set.nodes[1]!.client();
    await client.ping();

    await set.stop();
    await set.stop();

    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(client.status).toBe('end');
    for (const port of proxyPorts) await expect(tcpConnect(port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('removes the temp dirs', async () => {
    const set = await startRedisNodes(1, { persist: true });
    const dir = (await set.nodes[0]!.client().config('GET', 'dir')) as string[];
    expect(existsSync(dir[1]!)).toBe(true);
    await set.stop();
    expect(existsSync(dir[1]!)).toBe(false);
  });
});
