import { describe, expect, it } from '@jest/globals';
import { getEventListeners } from 'node:events';
import { driftFor, leaseDeadline, monotonicClock, sleep } from '../../lib/core/time/clock.js';
import { FakeClock } from '../support/fake-clock.js';

describe('clock and validity arithmetic (rules 5 and 6)', () => {
  it('drift = ttl * driftFactor + 2 ms', () => {
    expect(driftFor(10_000, 0.01)).toBe(102);
    expect(driftFor(1_000, 0)).toBe(2);
  });

  it('a lease is measured from the start of its round: deadline = t0 + ttl - drift', () => {
    expect(leaseDeadline(500, 10_000, 0.01)).toBe(500 + 10_000 - 102);
  });

  it('the default clock is monotonic (performance.now), not the wall clock', () => {
    const a = monotonicClock.now();
    const b = monotonicClock.now();
    expect(b).toBeGreaterThanOrEqual(a);
    expect(Math.abs(a - performance.now())).toBeLessThan(1_000);
    expect(Math.abs(a - Date.now())).toBeGreaterThan(1_000_000);
  });

  it('sleep resolves true after its time and false at once when aborted', async () => {
    const clock = new FakeClock();
    const done = sleep(clock, 50);
    await clock.advance(50);
    expect(await done).toBe(true);

    const controller = new AbortController();
    const cut = sleep(clock, 50, controller.signal);
    controller.abort();
    expect(await cut).toBe(false);
    expect(clock.pendingTimers).toBe(0);
    expect(await sleep(clock, 50, controller.signal)).toBe(false);
  });

  it('many sleeps on one signal share one abort listener, removed with the last of them', async () => {
    const clock = new FakeClock();
    const shared = new AbortController();
    const short = Array.from({ length: 30 }, () => sleep(clock, 10, shared.signal));
    const long = Array.from({ length: 30 }, () => sleep(clock, 100, shared.signal));
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(1);
    await clock.advance(10);
    expect(await Promise.all(short)).toEqual(short.map(() => true));
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(1);
    shared.abort();
    expect(await Promise.all(long)).toEqual(long.map(() => false));
    expect(clock.pendingTimers).toBe(0);
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);

    const reused = new AbortController();
    const all = Array.from({ length: 20 }, () => sleep(clock, 5, reused.signal));
    await clock.advance(5);
    expect(await Promise.all(all)).toEqual(all.map(() => true));
    expect(getEventListeners(reused.signal, 'abort')).toHaveLength(0);
  });
});
