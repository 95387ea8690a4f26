import { lockScript } from '../nodes/lock-script.js';
import type { Primitive } from './primitive.js';
import { exclusiveTakeSource, mutex } from './mutex.js';
import { keysByRole } from './resource-keys.js';

/**
 * A fenced lock: the mutex whose take also proposes a fence (ARGV[3]) that a node accepts only
 * if it is larger than every fence it holds for the lock's resources (mutex.ts, the fence step).
 * A lock is granted only when a quorum accepted the same proposal, so any two grants share a
 * node and a later grant always carries a larger fence, with no assumption about clocks
 * (CORRECTNESS.md). Fences never expire: one permanent key per fenced resource and node.
 */
export const FENCED_TAKE = lockScript('acquire-fenced', exclusiveTakeSource(true));

export const fencedMutex: Primitive = {
  ...mutex,
  take: FENCED_TAKE,
  keysFor: (keyPrefix, resources) => ({
    ...mutex.keysFor(keyPrefix, resources),
    take: keysByRole(keyPrefix, resources, ['lock', 'shared', 'kind', 'writerWaiting', 'fence']),
  }),
  takeArgs: (fence) => [fence],
  noHoldsNothingOfOurs: false,
};

/** The fence keys of a lock (for the re-seed below). */
export function fenceKeysOf(keyPrefix: string, resources: readonly string[]): string[] {
  return keysByRole(keyPrefix, resources, ['fence']);
}

/**
 * Re-seed a node whose fence values are in doubt (it restarted or lost its data): every fence
 * key of the lock becomes at least ARGV[1], the largest fence a quorum reported, written in the
 * node's current generation, so the node votes on fences again. KEYS = fence keys, then the
 * node's generation key. Never lowers a value.
 */
export const RESEED_FENCE = lockScript(
  'reseed-fence',
  `local current = redis.call('GET', KEYS[#KEYS]) or ''
local floor = tonumber(ARGV[1])
for i = 1, #KEYS - 1 do
  local stored = redis.call('GET', KEYS[i])
  local value = 0
  if stored then value = tonumber(string.sub(stored, 1, string.find(stored, '/', 1, true) - 1)) end
  redis.call('SET', KEYS[i], string.format('%d', math.max(value, floor)) .. '/' .. current)
end
return 1`,
);
