import { randomFillSync } from 'node:crypto';

/** Bytes of the owner token (rule 1: at least 128 bits from a CSPRNG). */
export const TOKEN_BYTES = 16;

/** Tokens drawn per refill: one call into the CSPRNG per this many locks instead of one per lock. */
const TOKENS_PER_REFILL = 256;

const pool = Buffer.alloc(TOKEN_BYTES * TOKENS_PER_REFILL);
let next = pool.length;

/**
 * A fresh owner token (rule 1), hex. The bytes come from the CSPRNG in batches: each token is
 * still 128 bits the CSPRNG made and no other token shares them; drawing 16 bytes at a time cost
 * more than the rest of an uncontended acquire's own work.
 */
export function newOwnerToken(): string {
  if (next >= pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  const token = pool.toString('hex', next, next + TOKEN_BYTES);
  next += TOKEN_BYTES;
  return token;
}
