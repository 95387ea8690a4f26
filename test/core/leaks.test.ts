/**
 * Leak guard (issue 4, "Leaks and load"), the deterministic part of soak/load.ts: after
 * acquire/release cycles, auto-extended holds, lost locks, contention and aborted waits, nothing
 * of the engine is left behind. Counts only (timers, listeners, held locks), no timings: every
 * wait below is for a condition, with a generous bound.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getEventListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockAbortedError } from '../../lib/core/errors.js';
import type { Lock } from '../../lib/core/engine/held-lease.js';
import { Redlock } from '../../lib/core/redlock.js';
import { countingClock, heldLockCount, listenerSnapshot, TimerTracker } from '../../soak/load-probes.js';
import { startRedisNodes } from '../support/redis-nodes.js';
import type { RedisNodes } from '../support/redis-nodes.js';

const CYCLES = 2_000;
const HOLDS = 500;
const STOLEN = 10;
/** Auto-extension every ttl/3 = 500 ms. */
const HOLD_TTL = 1_500;
/**
 * Far above the default for that ttl (75 ms): this test counts leftovers, so a busy machine
 * (jest workers, other suites' redis-servers) must not turn into node timeouts and failed rounds.
 */
const NODE_TIMEOUT = 1_000;
/** Timers created by jest itself while the test runs. */
const JEST_TIMERS = /node_modules[\\/](@jest|jest-)/;

let cluster: RedisNodes;

beforeAll(async () => {
  cluster = await startRedisNodes(3);
});
afterAll(async () => {
  await cluster?.stop();
});

/** Runs job(i) for i in [0, count) on `concurrency` parallel loops. */
async function inParallel(count: number, concurrency: number, job: (i: number, loop: number) => Promise<void>): Promise<void> {
  let next = 0;
  const loop = async (id: number) => {
    for (let i = next++; i < count; i = next++) await job(i, id);
  };
  await Promise.all(Array.from({ length: concurrency }, (_, id) => loop(id)));
}

/** Polls `condition` every 10 ms; fails the test after `boundMs`. */
async function until(what: string, condition: () => boolean, boundMs = 8_000): Promise<void> {
  const giveUpAt = performance.now() + boundMs;
  while (!condition()) {
    if (performance.now() > giveUpAt) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('leak guard: nothing of the engine outlives its locks', () => {
  it(`${CYCLES} cycles, ${HOLDS} auto-extended holds, lost locks, contention and aborted waits leave no timer, listener or held lock`, async () => {
    // Sees every Timeout created from here on, unref'd ones included (the engine unrefs its own),
    // with where it was created, so jest's own timers (its reporter's 100 ms tick) can be left out.
    const tracker = new TimerTracker(true).enable();
    const timeouts = () => tracker.count('Timeout', JEST_TIMERS);
    const clock = countingClock();
    const rl = new Redlock(
      cluster.nodes.map((n) => `redis://${n.host}:${n.directPort}`),
      { clock, nodeTimeout: NODE_TIMEOUT },
    );
    const intruders = cluster.nodes.map((n) => n.client());
    try {
      // Connected, with all three scripts loaded, before the baseline.
      const warm = await rl.acquire('warm', { ttl: HOLD_TTL });
      await warm.extend();
      await warm.release();
      await turn();
      const baseline = {
        timeouts: timeouts(),
        refTimeouts: tracker.countRefd('Timeout', JEST_TIMERS),
        listeners: listenerSnapshot(rl.clients),
      };
      expect(clock.live()).toBe(0);
      expect(heldLockCount(rl)).toBe(0);

      // 1. acquire/release cycles, 50 loops on their own keys
      await inParallel(CYCLES, 50, async (i, loop) => {
        const lock = await rl.acquire(`cycle:${loop}:${i % 4}`);
        await lock.release();
      });

      // 2. auto-extended holds, some of which are lost because their keys are taken over
      const lost: string[] = [];
      rl.on('lockLost', ({ resources }) => lost.push(resources[0]));
      const holds: Lock[] = [];
      await inParallel(HOLDS, 50, async (i) => {
        holds.push(await rl.acquire(`hold:${i}`, { ttl: HOLD_TTL, autoExtend: true }));
      });
      const firstDeadline = new Map(holds.map((lock) => [lock, lock.validUntil]));
      const stolen = holds.slice(0, STOLEN);
      await Promise.all(intruders.flatMap((c) => stolen.map((lock) => c.set(`lock:${lock.resources[0]}`, 'intruder'))));
      // Each lock not taken over has been extended at least twice (one extension adds ≥ ttl/3).
      await until('every held lock was extended twice', () =>
        holds.every((lock) => lock.signal.aborted || lock.validUntil >= firstDeadline.get(lock)! + (2 * HOLD_TTL) / 3 - 5),
      );
      await until('the taken-over locks are lost', () => stolen.every((lock) => lock.signal.aborted));
      expect(lost).toEqual(expect.arrayContaining(stolen.map((lock) => lock.resources[0])));
      await Promise.all(holds.map((lock) => lock.release()));

      // 3. contention under a caller's long-lived signal: waits sleep (timers + abort listeners)
      const caller = new AbortController();
      // Up to 40 waits sleep on this one signal at once: they share a single abort listener, so
      // Node never warns about more than 10 listeners on it (MaxListenersExceededWarning).
      const warnings: string[] = [];
      const onWarning = (warning: Error) => warnings.push(warning.name);
      process.on('warning', onWarning);
      let mostListeners = 0;
      await inParallel(40, 40, async (i) => {
        const lock = await rl.acquire(`busy:${i % 4}`, { signal: caller.signal, wait: 5_000, retryDelay: 5, retryJitter: 5 });
        mostListeners = Math.max(mostListeners, getEventListeners(caller.signal, 'abort').length);
        await turn();
        await lock.release();
      });
      process.off('warning', onWarning);
      expect(warnings).not.toContain('MaxListenersExceededWarning');
      expect(mostListeners).toBe(1);
      expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);

      // 4. waits cut short by their signal, and tryAcquire on a busy resource
      const blocker = await rl.acquire('blocked', { ttl: 10_000 });
      const cancel = new AbortController();
      const waits = Array.from({ length: 10 }, () =>
        rl.acquire('blocked', { signal: cancel.signal, wait: 10_000 }).then(
          (lock) => lock,
          (error: unknown) => error,
        ),
      );
      // The ten waits share one listener on their signal; it is there once any of them sleeps.
      await until('the waits are sleeping between attempts', () => getEventListeners(cancel.signal, 'abort').length === 1);
      cancel.abort();
      for (const outcome of await Promise.all(waits)) expect(outcome).toBeInstanceOf(LockAbortedError);
      expect(getEventListeners(cancel.signal, 'abort')).toHaveLength(0);
      for (let i = 0; i < 20; i++) expect(await rl.tryAcquire('blocked')).toBeNull();
      await blocker.release();

      // Everything released: nothing pending, nothing attached, nothing remembered.
      await turn();
      expect(clock.live()).toBe(0);
      expect(heldLockCount(rl)).toBe(0);
      expect(timeouts()).toBe(baseline.timeouts);
      expect(tracker.countRefd('Timeout', JEST_TIMERS)).toBe(baseline.refTimeouts);
      expect(listenerSnapshot(rl.clients)).toEqual(baseline.listeners);

      // quit(): the instance's own client listeners go; its connections end.
      await rl.quit();
      expect(clock.live()).toBe(0);
      const after = listenerSnapshot(rl.clients);
      rl.clients.forEach((client, i) => {
        expect(client.status).toBe('end');
        for (const event of ['error', 'close', 'ready']) expect(after[i][event] ?? 0).toBe((baseline.listeners[i][event] ?? 0) - 1);
      });
      // Nothing scheduled outlives quit(): its close bounds are cleared once each client has ended.
      await turn();
      expect(timeouts()).toBe(baseline.timeouts);
    } finally {
      tracker.disable();
      await rl.quit(); // a no-op when the test got that far; otherwise no reconnecting client outlives it
      for (const client of intruders) client.disconnect();
    }
  });
});
