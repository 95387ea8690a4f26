// The physical minimum of a quorum lock, for the bench to measure the libraries against: one
// SET NX PX per node in parallel, a quorum count, and compare-and-delete on every node. No
// validity arithmetic, no clean-up beyond deleting our own keys, no safety rule more than that.
import type { Redis } from 'ioredis';
import type { Held, Pacing } from './libraries.js';

const COMPARE_AND_DELETE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

interface CadClient extends Redis {
  compareAndDelete(key: string, token: string): Promise<number>;
}

export function floorLock(clients: Redis[], pacing: Pacing, token: () => string) {
  for (const client of clients) client.defineCommand('compareAndDelete', { numberOfKeys: 1, lua: COMPARE_AND_DELETE });
  const quorum = Math.floor(clients.length / 2) + 1;
  const release = (key: string, value: string) =>
    Promise.all(clients.map((c) => (c as CadClient).compareAndDelete(key, value).catch(() => 0))).then(() => undefined);

  const attempt = async (key: string, value: string): Promise<boolean> => {
    const replies = await Promise.all(clients.map((c) => c.set(key, value, 'PX', pacing.ttl, 'NX').catch(() => null)));
    if (replies.filter((r) => r === 'OK').length >= quorum) return true;
    await release(key, value);
    return false;
  };
  const held = (key: string, value: string): Held => ({ release: () => release(key, value) });

  return {
    async tryLock(key: string): Promise<Held | null> {
      const value = token();
      return (await attempt(key, value)) ? held(key, value) : null;
    },
    async lock(key: string): Promise<Held> {
      const value = token();
      const giveUpAt = performance.now() + pacing.wait;
      for (;;) {
        if (await attempt(key, value)) return held(key, value);
        if (performance.now() >= giveUpAt) throw new Error(`floor: ${key} busy`);
        await new Promise((resolve) => setTimeout(resolve, pacing.retryDelay + Math.random() * pacing.retryJitter));
      }
    },
  };
}
