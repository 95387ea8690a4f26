import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { QuorumUnavailableError, Redlock, RedlockConfigError } from '../../lib/core/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';

let nodes: RedisNodes;
const open: Redlock[] = [];
function redlock(urls = nodes.urls()): Redlock {
  const instance = new Redlock(urls);
  open.push(instance);
  return instance;
}

beforeAll(async () => {
  nodes = await startRedisNodes(3, { plain: true });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.quit()));
});
afterAll(async () => {
  await nodes?.stop();
});

describe('isLocked(resource): a quorum read', () => {
  it('is false for a free resource, true while any kind of holder has it, false again after release', async () => {
    const probe = redlock();
    const holder = redlock();
    expect(await probe.isLocked('probe:free')).toBe(false);
    for (const [name, options] of [
      ['write', {}],
      ['read', { mode: 'read' as const }],
      ['permit', { limit: 2 }],
      ['fenced', { fenced: true }],
    ] as const) {
      const resource = `probe:${name}`;
      const lock = await holder.acquire(resource, options);
      expect(await probe.isLocked(resource)).toBe(true);
      await lock.release();
      expect(await probe.isLocked(resource)).toBe(false);
    }
  });

  it('is false when only a minority of nodes hold it, true from a majority', async () => {
    const probe = redlock();
    const one = redlock([nodes.urls()[0]!]);
    const lock = await one.acquire('probe:minority');
    expect(await probe.isLocked('probe:minority')).toBe(false);
    const two = redlock(nodes.urls().slice(1, 3));
    const other = await two.acquire('probe:majority');
    expect(await probe.isLocked('probe:majority')).toBe(true);
    await Promise.all([lock.release(), other.release()]);
  });

  it("a reader's hold counts only while its lease runs on the node", async () => {
    const probe = redlock();
    await redlock().acquire('probe:expired-reader', { mode: 'read', ttl: 200 }); // never released
    expect(await probe.isLocked('probe:expired-reader')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await probe.isLocked('probe:expired-reader')).toBe(false);
  });

  it('refuses a bad resource name with RedlockConfigError', async () => {
    const probe = redlock();
    for (const bad of ['', '__redlock__:x', 7, ['a']]) {
      await expect(probe.isLocked(bad as string)).rejects.toMatchObject({ field: 'resource' });
      await expect(probe.isLocked(bad as string)).rejects.toBeInstanceOf(RedlockConfigError);
    }
  });

  it('rejects with QuorumUnavailableError when too few nodes answer', async () => {
    const local = await startRedisNodes(3, { plain: true });
    try {
      const probe = redlock(local.urls());
      expect(await probe.isLocked('probe:down')).toBe(false);
      await Promise.all([local.nodes[0]!.kill(), local.nodes[1]!.kill()]);
      await expect(probe.isLocked('probe:down')).rejects.toBeInstanceOf(QuorumUnavailableError);
    } finally {
      await local.stop();
    }
  });
});
