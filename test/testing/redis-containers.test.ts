import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { QuorumUnavailableError, Redlock, RedlockConfigError } from '../../lib/core/index.js';
import { BIRTH_MS, type NodeOutInfo } from '../../lib/core/nodes/amnesia-guard.js';
import { startRedisNodes, type StartedRedisNode, type StartedRedisNodes, type StartRedisNodesOptions } from '../../lib/testing/index.js';
import { resolveRedisNodesSettings } from '../../lib/testing/redis-container-options.js';
import { TEST_CONTAINER_OPTIONS } from '../support/test-container-options.js';

// nestjs-redlock/testing's startRedisNodes on a real Docker engine (the image: test-container-options.ts).
// Each test starts its own containers; afterEach removes them, also when the test failed.
const docker = promisify(execFile);
const LEASE = 1_500;
/** A label per test case, to ask Docker about exactly the containers of that case. */
const CASE_LABEL = 'nestjs-redlock.test-case';
const sets: StartedRedisNodes[] = [];
const engines: Redlock[] = [];
const clients: Redis[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await Promise.all(engines.splice(0).map((engine) => engine.quit()));
  await Promise.all(sets.splice(0).map((set) => set.stop()));
});

/** The tests' options, plus a label of this test case alone. */
function caseOptions(run: string, more: StartRedisNodesOptions = {}): StartRedisNodesOptions {
  return { ...TEST_CONTAINER_OPTIONS, ...more, labels: { ...TEST_CONTAINER_OPTIONS.labels, [CASE_LABEL]: run } };
}

async function nodes(count: number, options: StartRedisNodesOptions = TEST_CONTAINER_OPTIONS): Promise<StartedRedisNodes> {
  const set = await startRedisNodes(count, options);
  sets.push(set);
  return set;
}

function redlock(set: StartedRedisNodes, options: ConstructorParameters<typeof Redlock>[1] = {}): Redlock {
  const engine = new Redlock(set.urls, { ttl: LEASE, retryDelay: 20, retryJitter: 20, ...options });
  engines.push(engine);
  return engine;
}

/** A plain client on one node, for looking at its data from outside the engine. */
function client(node: StartedRedisNode, commandTimeout?: number): Redis {
  const redis = new Redis({ host: node.host, port: node.port, commandTimeout, maxRetriesPerRequest: 1, disconnectTimeout: 100 });
  redis.on('error', () => {}); // nodes are killed and paused on purpose
  clients.push(redis);
  return redis;
}

async function allReady(...instances: Redlock[]): Promise<void> {
  for (let i = 0; i < 250 && !instances.every((r) => r.clients.every((c) => c.status === 'ready')); i++) await sleep(20);
}

/** Ids of the containers, running or not, that carry label=value, as Docker lists them. */
async function containersLabelled(label: string, value: string): Promise<string[]> {
  const { stdout } = await docker('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=${label}=${value}`]);
  return stdout.split('\n').filter((id) => id !== '');
}

describe('startRedisNodes', () => {
  it('starts independent Redis masters in containers, each answering on its own mapped port', async () => {
    const run = randomUUID();
    const started = performance.now();
    const set = await nodes(3, caseOptions(run));
    const startMs = performance.now() - started;

    expect(set.urls).toEqual(set.nodes.map((node) => `redis://${node.host}:${node.port}`));
    expect(new Set(set.nodes.map((node) => node.port)).size).toBe(3);
    expect(set.nodes.map((node) => node.state)).toEqual(['running', 'running', 'running']);
    expect((await containersLabelled(CASE_LABEL, run)).sort()).toEqual(set.nodes.map((node) => node.containerId).sort());
    // Independent: a key written on one node is on that node only.
    await client(set.nodes[0]!).set('only-here', '1');
    expect(await Promise.all(set.nodes.map((node) => client(node).exists('only-here')))).toEqual([1, 0, 0]);
    expect(startMs).toBeLessThan(20_000);
  });

  it('kill(): the node goes away for good; a quorum of the other two still grants and releases', async () => {
    const set = await nodes(3);
    const engine = redlock(set);
    const held = await engine.acquire('order:1');
    const gone = set.nodes[1]!.containerId!;

    await set.nodes[1]!.kill();
    await set.nodes[1]!.kill(); // no-op

    expect(set.nodes[1]!.state).toBe('killed');
    expect(set.nodes[1]!.containerId).toBeUndefined();
    await expect(docker('docker', ['inspect', gone])).rejects.toThrow(/No such object/);
    const second = await engine.acquire('order:2', { wait: 0 });
    expect(await second.release()).toEqual({ released: true, nodes: 2 });
    expect(await held.release()).toEqual({ released: true, nodes: 2 });
    await expect(set.nodes[1]!.pause()).rejects.toThrow(/not running/);
  });

  it('restartEmpty(): same port, a new server with no data; clients reconnect, and the restart guard keeps the empty nodes out', async () => {
    const set = await nodes(3);
    const holder = redlock(set, { restartGuard: false });
    const guarded = redlock(set);
    const unguarded = redlock(set, { restartGuard: false });
    const out: NodeOutInfo[] = [];
    guarded.on('nodeOut', (info) => out.push(info));
    await Promise.all([holder, guarded, unguarded].map(async (r) => (await r.acquire('warm')).release()));
    await sleep(BIRTH_MS + 100); // the deployment's birth is over: its nodes are all marked
    const held = await holder.acquire('order:7');
    const ports = set.nodes.map((node) => node.port);
    const before = set.nodes.map((node) => node.containerId);

    const restarted = performance.now();
    await Promise.all([set.nodes[0]!.restartEmpty(), set.nodes[1]!.restartEmpty()]);
    const restartMs = performance.now() - restarted;

    expect(set.nodes.map((node) => node.port)).toEqual(ports);
    expect(set.urls).toEqual(set.nodes.map((node) => node.url));
    expect(set.nodes[0]!.containerId).not.toBe(before[0]);
    expect(set.nodes[1]!.containerId).not.toBe(before[1]);
    expect(set.nodes.map((node) => node.state)).toEqual(['running', 'running', 'running']);
    // Nothing survived, not the lock and not the guard's marker.
    expect(await client(set.nodes[0]!).dbsize()).toBe(0);
    expect(await client(set.nodes[1]!).dbsize()).toBe(0);
    expect(await client(set.nodes[2]!).exists('lock:order:7')).toBe(1);
    await allReady(holder, guarded, unguarded);
    expect(held.remaining).toBeGreaterThan(0);

    // Nodes 0 and 1 forgot order:7. Counted, their two yeses make a quorum while the lock is held.
    const refused = await guarded.tryAcquire('order:7').catch((error: unknown) => error);
    const second = await unguarded.tryAcquire('order:7');
    const stillHeld = held.remaining > 0;
    await second?.release();
    await held.release();

    expect(stillHeld).toBe(true);
    expect(second).not.toBeNull(); // the hazard is real on these nodes: granted twice without the guard
    expect(refused === null || refused instanceof QuorumUnavailableError).toBe(true); // guarded: not granted
    expect(out.map((info) => info.node).sort()).toEqual([0, 1]);
    for (const info of out) expect(info.countsAgainInMs).toBeGreaterThan(LEASE - 400);
    expect(restartMs).toBeLessThan(10_000);
  });

  it('each node is published on one port, for IPv4 and IPv6 alike, so that restartEmpty() can always have it back', async () => {
    // Docker 20.10 numbers a dynamic port's IPv4 and IPv6 mappings apart, and one node's IPv6
    // mapping can sit on another's IPv4 port: that node could then not come back on its port.
    const set = await nodes(3);
    const ports = set.nodes.map((node) => node.port);
    const watchers = set.nodes.map((node) => client(node));
    for (const node of set.nodes) {
      const { stdout } = await docker('docker', ['port', node.containerId!, '6379']);
      const published = stdout.split('\n').filter((line) => line !== '').map((line) => Number(line.slice(line.lastIndexOf(':') + 1)));
      expect(published.length).toBeGreaterThan(0);
      expect(new Set(published)).toEqual(new Set([node.port]));
    }
    for (const node of set.nodes) await node.restartEmpty(); // one at a time, the others running
    expect(set.nodes.map((node) => node.port)).toEqual(ports);
    expect(await Promise.all(watchers.map((watcher) => watcher.ping()))).toEqual(['PONG', 'PONG', 'PONG']);
  });

  it('restartEmpty() after kill() brings the node back on its port', async () => {
    const set = await nodes(1);
    const port = set.nodes[0]!.port;
    await set.nodes[0]!.kill();
    await set.nodes[0]!.restartEmpty();
    expect(set.nodes[0]!.port).toBe(port);
    expect(await client(set.nodes[0]!).ping()).toBe('PONG');
  });

  it('pause(): connections stay open and get no answer (calls time out, no quorum with two paused); unpause(): the same connections answer again', async () => {
    const set = await nodes(3);
    const engine = redlock(set, { nodeTimeout: 100 });
    await (await engine.acquire('warm')).release();
    const direct = client(set.nodes[0]!, 300);
    expect(await direct.ping()).toBe('PONG');

    await Promise.all([set.nodes[0]!.pause(), set.nodes[1]!.pause()]);

    expect(set.nodes.map((node) => node.state)).toEqual(['paused', 'paused', 'running']);
    await expect(direct.ping()).rejects.toThrow(/timed out/i);
    const refused = performance.now();
    await expect(engine.acquire('order:3', { wait: 0 })).rejects.toBeInstanceOf(QuorumUnavailableError);
    expect(performance.now() - refused).toBeLessThan(2_000);

    await Promise.all([set.nodes[0]!.unpause(), set.nodes[1]!.unpause()]);
    await set.nodes[0]!.unpause(); // no-op

    expect(direct.status).toBe('ready'); // never dropped
    expect(await direct.ping()).toBe('PONG');
    const lock = await engine.acquire('order:3', { wait: 0 });
    expect(await lock.release()).toEqual({ released: true, nodes: 3 });
  });

  it('stop(): removes every container, paused and killed ones included; idempotent; later faults are refused', async () => {
    const run = randomUUID();
    const set = await startRedisNodes(3, caseOptions(run));
    sets.push(set);
    await set.nodes[0]!.pause();
    await set.nodes[1]!.kill();
    expect(await containersLabelled(CASE_LABEL, run)).toHaveLength(2);

    const stopped = performance.now();
    await Promise.all([set.stop(), set.stop()]);
    const stopMs = performance.now() - stopped;
    await set.stop();

    expect(await containersLabelled(CASE_LABEL, run)).toEqual([]);
    expect(set.nodes.map((node) => node.state)).toEqual(['stopped', 'stopped', 'stopped']);
    await expect(set.nodes[2]!.restartEmpty()).rejects.toThrow(/stopped/);
    expect(stopMs).toBeLessThan(10_000);
  });

  it('a node that does not come up in startupTimeout fails the start, and no container is left', async () => {
    const run = randomUUID();
    const failure = await startRedisNodes(2, caseOptions(run, { startupTimeout: 1 })).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/startRedisNodes: Redis node \d \(image .+\) on port \d+ did not start/);
    expect(await containersLabelled(CASE_LABEL, run)).toEqual([]);
  });

  it('an image that is neither here nor pullable fails with its name', async () => {
    const failure = await startRedisNodes(1, { ...TEST_CONTAINER_OPTIONS, image: 'nestjs-redlock-test/absent:0' }).catch((error: unknown) => error);
    expect((failure as Error).message).toMatch(/Redis node 0 \(image nestjs-redlock-test\/absent:0\) on port \d+ did not start/);
  });

  it('bad arguments reject with RedlockConfigError naming the field, before touching Docker', async () => {
    const cases: [unknown, unknown, string][] = [
      [0, undefined, 'count'],
      [1.5, undefined, 'count'],
      ['3', undefined, 'count'],
      [16, undefined, 'count'],
      [3, null, 'options'],
      [3, [], 'options'],
      [3, { image: '' }, 'options.image'],
      [3, { image: 'redis 7' }, 'options.image'],
      [3, { image: 7 }, 'options.image'],
      [3, { startupTimeout: 0 }, 'options.startupTimeout'],
      [3, { startupTimeout: 2.5 }, 'options.startupTimeout'],
      [3, { startupTimeout: '30s' }, 'options.startupTimeout'],
      [3, { labels: 'ci' }, 'options.labels'],
      [3, { labels: { '': 'x' } }, 'options.labels'],
      [3, { labels: { job: 1 } }, 'options.labels.job'],
      [3, { imag: 'redis:7' }, 'options.imag'],
    ];
    for (const [count, options, field] of cases) {
      const failure = await startRedisNodes(count as number, options as StartRedisNodesOptions).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(RedlockConfigError);
      expect(failure).toMatchObject({ field });
    }
  });

  it("defaults: the official redis:7 image and a 30 s start-up bound", () => {
    expect(resolveRedisNodesSettings(3, undefined)).toEqual({ count: 3, image: 'redis:7', startupTimeoutMs: 30_000, labels: {} });
  });
});
