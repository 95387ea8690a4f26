import { describe, expect, it } from '@jest/globals';
import { takeReplyOf } from '../../lib/core/primitives/take-reply.js';

// How the engine reads a take script's reply (the scripts themselves run on real nodes in faults.test.ts).
describe('takeReplyOf', () => {
  it('reads the short replies of a served node: taken, and busy with the holder time left', () => {
    expect(takeReplyOf(['tok', 7_000], 'tok')).toEqual({
      standing: { kind: 'served', taken: true, largestLease: 7_000, birthMs: 0 },
      detail: { kind: 'taken' },
      fence: 0,
    });
    expect(takeReplyOf(['tok', 7_000, 1_234], 'tok')).toEqual({
      standing: { kind: 'served', taken: false, largestLease: 7_000, birthMs: 0 },
      detail: { kind: 'busy', holderMs: 1_234 },
      fence: 0,
    });
    expect(takeReplyOf(['tok', 7_000, -2], 'tok').detail).toEqual({ kind: 'busy', holderMs: undefined });
  });

  it('reads the full reply: standing, detail and fence', () => {
    expect(takeReplyOf([0, 1, 900, 0, 'tok', 1, 50, 0], 'tok')).toEqual({ standing: { kind: 'quarantined', taken: false, ms: 900 }, detail: { kind: 'busy', holderMs: 50 }, fence: 0 });
    expect(takeReplyOf([1, 0, 7_000, 400, 'tok', 0, 0, 12], 'tok')).toEqual({ standing: { kind: 'served', taken: true, largestLease: 7_000, birthMs: 400 }, detail: { kind: 'taken' }, fence: 12 });
    expect(takeReplyOf([0, 2, 0, 0, 'tok', 2, 'read', 0], 'tok')).toEqual({ standing: { kind: 'unmarked', taken: false }, detail: { kind: 'mismatch', theirs: 'read' }, fence: 0 });
  });

  it("refuses a reply that is not this call's own, short or full: a connection out of step is never a vote", () => {
    for (const reply of [['other', 7_000], ['other', 7_000, 10], [1, 0, 7_000, 0, 'other', 0, 0, 0], 'OK', 1, null, ['tok'], [7_000, 'tok']]) {
      expect(() => takeReplyOf(reply, 'tok')).toThrow(/not this acquire's own/);
    }
  });
});
