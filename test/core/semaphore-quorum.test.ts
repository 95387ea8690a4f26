import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { QuorumUnavailableError, Redlock } from '../../lib/core/index.js';
import type { Lock } from '../../lib/core/index.js';
import { quorumOf, semaphoreQuorumOf } from '../../lib/core/engine/verdict.js';
import { freePort } from '../support/free-port.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';

describe('the quorum of a semaphore', () => {
  it('is the smallest Q with (limit + 1) x Q > N x limit, and never below a majority', () => {
    for (let n = 1; n <= 9; n++) {
      for (let limit = 1; limit <= 20; limit++) {
        const q = semaphoreQuorumOf(n, limit);
        expect((limit + 1) * q).toBeGreaterThan(n * limit); // limit + 1 holders cannot fit
        expect(q).toBeLessThanOrEqual(n);
        if (q > quorumOf(n)) expect((limit + 1) * (q - 1)).toBeLessThanOrEqual(n * limit); // one less could
      }
    }
    expect(semaphoreQuorumOf(5, 1)).toBe(3); // a mutex: the majority
    expect(semaphoreQuorumOf(5, 3)).toBe(4);
    expect(semaphoreQuorumOf(3, 2)).toBe(3);
    expect(semaphoreQuorumOf(8, 3)).toBe(7);
  });
});

describe('a semaphore never has more than limit holders, even on different majorities', () => {
  let nodes: RedisNodes;
  let unreachable: string;
  beforeAll(async () => {
    nodes = await startRedisNodes(5, { plain: true });
    unreachable = `redis://127.0.0.1:${await freePort()}`;
  });
  afterAll(async () => {
    await nodes?.stop();
  });

  it('limit 3 on 5 nodes: five clients that each reach a different 3 of the nodes (every node 3 times) get at most 3 permits', async () => {
    // With a majority quorum each of the five would get a permit: every node admits 3, and each
    // client's 3 nodes are a majority. 5 permits with limit 3.
    const triples = [[0, 1, 2], [2, 3, 4], [0, 1, 3], [1, 2, 4], [0, 3, 4]];
    const clients = triples.map(
      (triple) => new Redlock(nodes.urls().map((url, i) => (triple.includes(i) ? url : unreachable)), { wait: 0, restartGuard: false }),
    );
    const permits: Lock[] = [];
    const answers: string[] = [];
    try {
      for (const client of clients) {
        const permit = await client.tryAcquire('export', { limit: 3 }).catch((e: unknown) => e);
        if (permit instanceof QuorumUnavailableError) answers.push('unavailable');
        else if (permit) {
          permits.push(permit as Lock);
          answers.push('granted');
        } else answers.push('busy');
      }
      expect(permits.length).toBeLessThanOrEqual(3);
      // 3 of 5 nodes are fewer than the 4 a limit-3 semaphore needs: told at once, not busy.
      expect(answers).toEqual(Array(5).fill('unavailable'));
    } finally {
      await Promise.all(permits.map((p) => p.release()));
      await Promise.all(clients.map((c) => c.quit()));
    }
  });

  it('with every node reachable, 3 permits are granted and the fourth caller is busy', async () => {
    const clients = Array.from({ length: 4 }, () => new Redlock(nodes.urls(), { wait: 0 }));
    try {
      // One after the other: callers at the same moment may split the nodes' permits between them
      // so that fewer than 3 reach the 4 nodes they need (safe, and a lost race for tryAcquire).
      const permits: (Lock | null)[] = [];
      for (const client of clients) permits.push(await client.tryAcquire('report', { limit: 3 }));
      expect(permits.map(Boolean)).toEqual([true, true, true, false]);
      await Promise.all(permits.map((p) => p?.release()));
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });
});
