import { describe, expect, it } from '@jest/globals';
import { findOverlaps } from './overlap-checker.js';

const s = (owner: string, enteredAt: number, leftAt: number, validUntil = 1e9, key = 'k') => ({ owner, key, enteredAt, leftAt, validUntil });

describe('overlap checker', () => {
  it('accepts back-to-back sections and separate keys', () => {
    expect(findOverlaps([s('a', 0, 10), s('b', 10, 20), s('c', 5, 15, 1e9, 'other')])).toEqual([]);
  });

  it('finds a section that starts inside another', () => {
    const overlaps = findOverlaps([s('a', 0, 10), s('b', 8, 20)]);
    expect(overlaps).toHaveLength(1);
    expect(overlaps[0]).toMatchObject({ key: 'k', byMs: 2 });
  });

  it('finds a section nested in a long one, even after a short one in between', () => {
    expect(findOverlaps([s('a', 0, 100), s('b', 10, 20), s('c', 30, 40)])).toHaveLength(2);
  });

  it('a holder is entitled only up to validUntil: a section after an expired lease is no overlap', () => {
    expect(findOverlaps([s('a', 0, 100, 50), s('b', 60, 80)])).toEqual([]);
  });
});
