import { describe, expect, it } from '@jest/globals';
import { leaseDeadline } from '../../lib/core/time/clock.js';
import { LockLostError } from '../../lib/core/errors.js';
import { expiryWarningMargin, LockHandle } from '../../lib/core/engine/held-lease.js';
import type { ReleaseResult } from '../../lib/core/engine/held-lease.js';
import { AmnesiaGuard } from '../../lib/core/nodes/amnesia-guard.js';
import { NodeSet } from '../../lib/core/engine/node-set.js';
import { mutex } from '../../lib/core/primitives/mutex.js';
import { FakeClock } from '../support/fake-clock.js';
import { fakeNodes } from '../support/fake-node.js';
import type { FakeNode } from '../support/fake-node.js';

/** These timing tests are not about rule 15: a guard that is off. */
const unguarded = (clock: FakeClock) =>
  new AmnesiaGuard({ keyPrefix: 'lock:', clock, restartGuard: 0, ownLargestLease: () => TTL, onNodeOut: () => undefined });

const TTL = 900;
const DRIFT_FACTOR = 0.01;

function makeLock(nodes: FakeNode[], opts: { validFor?: number } = {}) {
  const clock = new FakeClock();
  const lost: LockLostError[] = [];
  const released: ReleaseResult[] = [];
  const lock = new LockHandle(
    {
      nodeSet: new NodeSet(nodes, clock, unguarded(clock)),
      clock,
      driftFactor: DRIFT_FACTOR,
      nodeTimeout: 50,
      onLost: (_lock, error) => lost.push(error),
      onReleased: (_lock, result) => released.push(result),
    },
    {
      resources: ['r'],
      primitive: mutex,
      keys: mutex.keysFor('lock:', ['r']),
      value: 'token',
      ttl: TTL,
      validUntil: clock.now() + (opts.validFor ?? leaseDeadline(0, TTL, DRIFT_FACTOR)),
    },
  );
  const extendCalls = () => nodes[0].calls.filter((c) => c.script === 'extend').length;
  return { clock, lock, lost, released, extendCalls };
}

describe('Lock timing (rules 10-13) with fake nodes and a fake clock', () => {
  it('rule 10: the signal aborts before validUntil when no extension happened', async () => {
    const { clock, lock, lost } = makeLock(fakeNodes('yes', 'yes', 'yes'));
    const firesAt = lock.validUntil - expiryWarningMargin(TTL);
    await clock.advance(firesAt - clock.now() - 1);
    expect(lock.signal.aborted).toBe(false);
    expect(lock.remaining).toBeGreaterThan(0);
    await clock.advance(1);
    expect(lock.signal.aborted).toBe(true);
    expect(clock.now()).toBeLessThan(lock.validUntil);
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect(lost).toHaveLength(1);
    expect(lock.remaining).toBe(0);
  });

  it('rule 11: a successful extend moves validUntil to start-of-extend + ttl - drift and re-arms the warning', async () => {
    const { clock, lock } = makeLock(fakeNodes('yes', 'yes', 'yes'));
    await clock.advance(400);
    const startedAt = clock.now();
    await lock.extend();
    expect(lock.validUntil).toBe(leaseDeadline(startedAt, TTL, DRIFT_FACTOR));
    await clock.advance(800);
    expect(lock.signal.aborted).toBe(false); // the old deadline's warning no longer applies
    await clock.advance(100);
    expect(lock.signal.aborted).toBe(true);
  });

  it('rule 10: a failed extension aborts the signal at once and rejects with LOCK_LOST', async () => {
    const nodes = fakeNodes('yes', 'yes', 'yes');
    const { lock } = makeLock(nodes);
    nodes.forEach((n) => (n.behaviour = 'no'));
    await expect(lock.extend()).rejects.toMatchObject({ code: 'LOCK_LOST' });
    expect(lock.signal.aborted).toBe(true);
  });

  it('rule 11: extend after expiry rejects with LOCK_LOST without touching the nodes', async () => {
    const { clock, lock, extendCalls } = makeLock(fakeNodes('yes', 'yes', 'yes'));
    await clock.advance(TTL);
    await expect(lock.extend()).rejects.toBeInstanceOf(LockLostError);
    expect(extendCalls()).toBe(0);
  });

  it('a failed extension says how many nodes extended, refused and failed (not "busy" for a timeout)', async () => {
    const { lock } = makeLock(fakeNodes('yes', 'yes', 'no', 'error', 'error'));
    const error = await lock.extend().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockLostError);
    const message = (error as Error).message;
    expect(message).toContain('only 2 of 5 nodes extended it (3 needed)');
    expect(message).toContain('1 no longer hold our token');
    expect(message).toContain('2 failed: #3 fake-3: fake node 3 failed; #4 fake-4: fake node 4 failed');
    expect(lock.signal.aborted).toBe(true);
  });

  it('extend validates its ttl', async () => {
    const { lock } = makeLock(fakeNodes('yes'));
    expect(() => lock.extend(-5)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', field: 'ttl' }));
    await lock.release();
  });

  it('rule 12: auto-extension runs every ttl/3 and nothing it scheduled survives release', async () => {
    const { clock, lock, extendCalls } = makeLock(fakeNodes('yes', 'yes', 'yes'));
    lock.startAutoExtension();
    await clock.advance(TTL / 3 - 1);
    expect(extendCalls()).toBe(0);
    await clock.advance(1);
    expect(extendCalls()).toBe(1);
    await clock.advance(TTL * 3);
    expect(extendCalls()).toBe(10);
    expect(lock.signal.aborted).toBe(false);
    await lock.release();
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(TTL * 3);
    expect(extendCalls()).toBe(10);
  });

  it('rule 12: the first auto-extension is planned from the validity left, not from start + ttl', async () => {
    const { clock, lock, extendCalls } = makeLock(fakeNodes('yes', 'yes', 'yes'), { validFor: 100 });
    lock.startAutoExtension();
    await clock.advance(50);
    expect(extendCalls()).toBe(1);
    expect(lock.signal.aborted).toBe(false);
    await lock.release();
  });

  it('rule 12: auto-extension stops after a failed extension; the signal tells the holder', async () => {
    const nodes = fakeNodes('yes', 'yes', 'yes');
    const { clock, lock, extendCalls, lost } = makeLock(nodes);
    lock.startAutoExtension();
    nodes.forEach((n) => (n.behaviour = 'error'));
    await clock.advance(TTL / 3);
    expect(lock.signal.aborted).toBe(true);
    expect(lost).toHaveLength(1);
    await clock.advance(TTL * 2);
    expect(extendCalls()).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('rule 13: release is bounded by the node timeout even with a hung node, and counts deletions', async () => {
    const { clock, lock, released } = makeLock(fakeNodes('yes', 'hang', 'yes'));
    const result = lock.release();
    await clock.advance(50);
    expect(await result).toEqual({ released: true, nodes: 2 });
    expect(released).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('release is idempotent and says released: false when no quorum deleted our keys', async () => {
    const { clock, lock } = makeLock(fakeNodes('no', 'yes', 'error'));
    await clock.advance(TTL);
    const first = await lock.release();
    expect(first).toEqual({ released: false, nodes: 1 });
    expect(await lock.release()).toBe(first);
    await expect(lock.extend()).rejects.toMatchObject({ code: 'LOCK_LOST' });
  });

  it('Symbol.asyncDispose releases the lock', async () => {
    const nodes = fakeNodes('yes');
    const { lock } = makeLock(nodes);
    await lock[Symbol.asyncDispose]();
    expect(nodes[0].calls.map((c) => c.script)).toEqual(['release']);
  });
});

describe('a holder frozen past its warning time (rule 10)', () => {
  it('sees the signal aborted on its first look, before the warning timer ran', async () => {
    const { clock, lock, lost } = makeLock(fakeNodes('yes', 'yes', 'yes'), { validFor: 500 });
    // Time jumps past the deadline without any timer running (the process was stopped).
    (clock as unknown as { time: number }).time += 600;
    expect(lock.remaining).toBe(0);
    expect(lock.signal.aborted).toBe(true);
    expect(lost).toHaveLength(1);
  });

  it('a release after the lease ran out reports the loss instead of hiding it', async () => {
    const { clock, lock, lost } = makeLock(fakeNodes('no', 'no', 'no'), { validFor: 500 });
    (clock as unknown as { time: number }).time += 600;
    expect(await lock.release()).toEqual({ released: false, nodes: 0 });
    expect(lost).toHaveLength(1);
  });
});
