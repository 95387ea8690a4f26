import { createHash } from 'node:crypto';

/**
 * The Lua scripts the engine runs on every node. Each one checks and writes in one step
 * (rule 2: never SETNX-then-EXPIRE), over all of a lock's keys at once, so a multi-resource
 * lock is all-or-nothing on each node.
 *
 * KEYS = the lock's prefixed keys; ARGV[1] = the owner token; ARGV[2] = the lease in ms.
 */
export interface LockScript {
  readonly name: string;
  readonly source: string;
  /** SHA1 of the source, for EVALSHA (loaded once per node, re-sent after NOSCRIPT). */
  readonly sha: string;
}

function script(name: string, source: string): LockScript {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Take every key, or none. Rule 1: a key already holding *our* token counts as ours
 * (a late write from our own earlier attempt must not block us). Returns 1 or 0.
 */
export const ACQUIRE = script(
  'acquire',
  `for i = 1, #KEYS do
  local holder = redis.call('GET', KEYS[i])
  if holder and holder ~= ARGV[1] then return 0 end
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
end
return 1`,
);

/**
 * Rule 11: compare-then-PEXPIRE. Only keys that still hold our token are extended, so an
 * expired lock is never resurrected (a missing key stays missing). Returns 1 or 0.
 */
export const EXTEND = script(
  'extend',
  `for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[1] then return 0 end
end
for i = 1, #KEYS do
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return 1`,
);

/** Rule 13: compare-and-delete. Returns how many of the keys held our token and were deleted. */
export const RELEASE = script(
  'release',
  `local deleted = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    deleted = deleted + 1
  end
end
return deleted`,
);
