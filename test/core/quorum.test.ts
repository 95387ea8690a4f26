import { describe, expect, it } from '@jest/globals';
import { runRound } from '../../lib/core/engine/round.js';
import { quorumOf, verdictOf } from '../../lib/core/engine/verdict.js';
import type { LockNode } from '../../lib/core/nodes/lock-node.js';
import { EXCLUSIVE_GIVE } from '../../lib/core/primitives/mutex.js';
import { FakeClock, settle } from '../support/fake-clock.js';
import { fakeNodes } from '../support/fake-node.js';
import type { FakeBehaviour } from '../support/fake-node.js';

function round(clock: FakeClock, nodes: LockNode[], decideEarly = true) {
  let done = false;
  const outcome = runRound({
    nodes,
    timeoutMs: 100,
    clock,
    decideEarly: decideEarly ? 'at-once' : 'never',
    // A fake node's yes to release is 1 (one resource); the script does not matter to the round.
    ask: async (node) => ({ yes: (await node.run(EXCLUSIVE_GIVE, ['k', 'w'], ['t'])) === 1 }),
  }).finally(() => {
    done = true;
  });
  return { outcome, isDone: () => done };
}

describe('quorum (rules 3, 4, 6, 8, 9) with fake nodes and a fake clock', () => {
  it('Q = floor(N/2) + 1 of the configured N', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(quorumOf)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });

  it.each<[FakeBehaviour[], string]>([
    [['yes'], 'won'],
    [['no'], 'busy'],
    [['error'], 'unavailable'],
    [['yes', 'yes', 'error'], 'won'],
    [['yes', 'no', 'error'], 'busy'],
    [['yes', 'error', 'error'], 'unavailable'],
    [['yes', 'yes', 'no', 'no'], 'busy'],
    [['yes', 'yes', 'yes', 'error', 'error'], 'won'],
    [['no', 'no', 'error', 'error', 'yes'], 'busy'],
    [['error', 'error', 'error', 'no', 'yes'], 'unavailable'],
  ])('votes %j give the verdict %s (rule 8: errors elsewhere never fail a won round)', async (votes, verdict) => {
    const clock = new FakeClock();
    const { outcome } = round(clock, fakeNodes(...votes));
    await clock.advance(200);
    expect(verdictOf(await outcome, votes.length)).toBe(verdict);
  });

  it('rule 4: an even split (N=4, 2:2) settles without waiting for any timeout', async () => {
    const clock = new FakeClock();
    const r = round(clock, fakeNodes('yes', 'no', 'yes', 'no'));
    await settle();
    expect(r.isDone()).toBe(true);
    expect(await r.outcome).toMatchObject({ yes: 2, no: 2, pending: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('rule 4: decides as soon as Q said yes, while a hung node is still silent', async () => {
    const clock = new FakeClock();
    const r = round(clock, fakeNodes('yes', 'hang', 'yes'));
    await settle();
    expect(r.isDone()).toBe(true);
    expect(await r.outcome).toMatchObject({ yes: 2, pending: 1 });
    expect(clock.pendingTimers).toBe(0); // no per-node timer outlives the decision
  });

  it('rule 4: decides as soon as Q can no longer be reached', async () => {
    const clock = new FakeClock();
    const r = round(clock, fakeNodes('no', 'hang', 'no', 'hang', 'no'));
    await settle();
    expect(r.isDone()).toBe(true);
    expect(verdictOf(await r.outcome, 5)).toBe('busy');
  });

  it('rule 3 and 6: a hung node counts as an error after the per-node timeout, never as yes', async () => {
    const clock = new FakeClock();
    const r = round(clock, fakeNodes('yes', 'hang', 'hang'));
    await clock.advance(99);
    expect(r.isDone()).toBe(false);
    await clock.advance(1);
    expect(r.isDone()).toBe(true);
    const outcome = await r.outcome;
    expect(outcome.yes).toBe(1);
    expect(outcome.errors.map((e) => e.message)).toEqual(['no reply within 100 ms', 'no reply within 100 ms']);
    expect(verdictOf(outcome, 3)).toBe('unavailable');
  });

  it('a late answer after the timeout is ignored', async () => {
    const clock = new FakeClock();
    const nodes = fakeNodes('yes', 'hang', 'hang');
    const r = round(clock, nodes);
    await clock.advance(100);
    nodes[1].wake();
    await settle();
    expect((await r.outcome).errors).toHaveLength(2);
  });

  it('without early decision (release) the round waits for every node, bounded by the timeout', async () => {
    const clock = new FakeClock();
    const r = round(clock, fakeNodes('yes', 'yes', 'hang'), false);
    await settle();
    expect(r.isDone()).toBe(false);
    await clock.advance(100);
    expect(await r.outcome).toMatchObject({ yes: 2, no: 0, pending: 0 });
  });

  it('a node whose call throws synchronously counts as an error', async () => {
    const clock = new FakeClock();
    const throwing: LockNode = { index: 0, address: 'x', run: () => { throw new Error('boom'); } };
    const r = round(clock, [throwing]);
    expect((await r.outcome).errors[0]).toMatchObject({ node: 0, address: 'x', message: 'boom' });
  });
});
