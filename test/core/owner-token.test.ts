import { describe, expect, it } from '@jest/globals';
import { newOwnerToken, TOKEN_BYTES } from '../../lib/core/engine/owner-token.js';

describe('owner tokens (rule 1)', () => {
  it('are 128 bits of hex, none repeated across many refills of the batch', () => {
    const tokens = Array.from({ length: 10_000 }, () => newOwnerToken());
    expect(TOKEN_BYTES).toBeGreaterThanOrEqual(16);
    for (const token of tokens) expect(token).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
  });
});
