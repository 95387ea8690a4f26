import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { QuorumUnavailableError } from '../../lib/core/errors.js';
import { Redlock } from '../../lib/core/redlock.js';
import { startSecureRedis } from '../support/secure-redis.js';
import type { SecureRedis } from '../support/secure-redis.js';

let secure: SecureRedis;
beforeAll(async () => {
  secure = await startSecureRedis(3, { user: 'locker', password: 'pw' });
});
afterAll(async () => {
  await secure?.stop();
});

describe('nodes behind TLS whose certificate is not trusted', () => {
  it('count as down and never crash the process, over thousands of failed handshakes', async () => {
    // A failed handshake can make the socket emit a second error that ioredis does not listen
    // for: unguarded, about one in 300 becomes an uncaught exception, which fails this test.
    // 8 instances × 3 nodes, reconnecting every 5 ms for 3 s: a few thousand handshakes.
    const instances = Array.from(
      { length: 8 },
      () =>
        new Redlock(
          secure.nodes.map((n) => ({ host: secure.host, port: n.tlsPort, tls: {}, username: 'locker', password: 'pw', retryStrategy: () => 5 })),
          { wait: 0 },
        ),
    );
    const reasons = new Set<string>();
    for (const redlock of instances) redlock.on('nodeDown', ({ error }) => reasons.add(error?.message ?? 'none'));
    try {
      await sleep(3_000);
      expect([...reasons]).toEqual(['self-signed certificate']);
      await expect(instances[0]!.acquire('tls:untrusted')).rejects.toBeInstanceOf(QuorumUnavailableError);
    } finally {
      await Promise.all(instances.map((redlock) => redlock.quit()));
    }
  });
});
