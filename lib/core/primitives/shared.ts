import { lockScript } from '../nodes/lock-script.js';
import type { Primitive } from './primitive.js';
import { quorumOf, semaphoreQuorumOf } from './quorum.js';
import { keysByRole, wakeChannels } from './resource-keys.js';
import { TAKE_DETAIL, TAKE_PREAMBLE } from './take-reply.js';
import { WAKE_UP } from './wake-up.js';

/**
 * Shared holds: readers of a read/write lock, and the permits of a semaphore. Each holder is a
 * member of the resource's shared set with its own lease (its end on the node's clock), so one
 * crashed holder's hold ends alone. ARGV[3] = what the holders are: 'read', or the semaphore's
 * limit; a take that finds holders of another kind answers "mismatch" with theirs.
 *
 * Take KEYS per resource, by role: lock, shared, kind, writer-waiting. A writer holding the
 * resource, or waiting for it (writer-waiting), keeps new shared holders out.
 */
const SHARED_TAKE = lockScript(
  'acquire-shared',
  `${TAKE_PREAMBLE}
local n = (g - 1) / 4
local kind = ARGV[3]
local limit = tonumber(kind)
for i = 1, n do
  local holder = redis.call('GET', KEYS[i])
  if holder then return reply(0, ${TAKE_DETAIL.busy}, redis.call('PTTL', KEYS[i])) end
  if redis.call('EXISTS', KEYS[3 * n + i]) == 1 then return reply(0, ${TAKE_DETAIL.busy}, 0) end
  redis.call('ZREMRANGEBYSCORE', KEYS[n + i], '-inf', nodeTime())
  local count = redis.call('ZCARD', KEYS[n + i])
  if count > 0 then
    local theirs = redis.call('GET', KEYS[2 * n + i])
    if theirs and theirs ~= kind then return reply(0, ${TAKE_DETAIL.mismatch}, theirs) end
    if limit and count >= limit and not redis.call('ZSCORE', KEYS[n + i], token) then
      local first = redis.call('ZRANGE', KEYS[n + i], 0, 0, 'WITHSCORES')
      return reply(0, ${TAKE_DETAIL.busy}, tonumber(first[2]) - nodeTime())
    end
  end
end
for i = 1, n do
  redis.call('ZADD', KEYS[n + i], nodeTime() + lease, token)
  local last = redis.call('ZRANGE', KEYS[n + i], -1, -1, 'WITHSCORES')
  local keep = math.max(tonumber(last[2]) - nodeTime(), 1)
  redis.call('PEXPIRE', KEYS[n + i], keep)
  redis.call('SET', KEYS[2 * n + i], kind, 'PX', keep)
end
return reply(1, ${TAKE_DETAIL.taken}, 0)`,
);

/**
 * Rule 11 for a shared hold: only a hold that is still ours and still running is extended (an
 * expired one is never resurrected). KEYS = shared sets, kind keys, then the marker.
 */
const SHARED_EXTEND = lockScript(
  'extend-shared',
  `local n = (#KEYS - 1) / 2
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, n do
  local ends = redis.call('ZSCORE', KEYS[i], ARGV[1])
  if not ends or tonumber(ends) <= now then return 0 end
end
for i = 1, n do
  redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[2]), ARGV[1])
  local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
  local keep = math.max(tonumber(last[2]) - now, 1)
  redis.call('PEXPIRE', KEYS[i], keep)
  redis.call('PEXPIRE', KEYS[n + i], keep)
end
local recorded = tonumber(redis.call('GET', KEYS[#KEYS]))
if recorded and recorded < tonumber(ARGV[2]) then redis.call('SET', KEYS[#KEYS], ARGV[2]) end
return 1`,
);

/**
 * Rules 7 and 13 for a shared hold: remove our member; the last holder out removes the kind too.
 * ARGV = token, withdraw (unused: shared holders leave no mark), then the wake channels (as for the mutex).
 */
const SHARED_GIVE = lockScript(
  'release-shared',
  `local n = #KEYS / 2
local removed = 0
for i = 1, n do
  local freed = redis.call('ZREM', KEYS[i], ARGV[1]) == 1
  if freed then removed = removed + 1 end
  if redis.call('EXISTS', KEYS[i]) == 0 then redis.call('DEL', KEYS[n + i]) end
  ${WAKE_UP}
end
return removed`,
);

function sharedPrimitive(kind: 'read' | number): Primitive {
  return {
    mode: kind === 'read' ? 'read' : 'write',
    limit: kind === 'read' ? undefined : kind,
    take: SHARED_TAKE,
    extend: SHARED_EXTEND,
    give: SHARED_GIVE,
    keysFor: (keyPrefix, resources) => ({
      take: keysByRole(keyPrefix, resources, ['lock', 'shared', 'kind', 'writerWaiting']),
      extend: keysByRole(keyPrefix, resources, ['shared', 'kind']),
      give: keysByRole(keyPrefix, resources, ['shared', 'kind']),
      wake: wakeChannels(keyPrefix, resources),
    }),
    takeArgs: () => [String(kind)],
    // Readers only exclude writers (pairwise, as a mutex); permits count, and need more (quorum.ts).
    quorum: (nodeCount) => (kind === 'read' ? quorumOf(nodeCount) : semaphoreQuorumOf(nodeCount, kind)),
    noHoldsNothingOfOurs: false,
  };
}

/** The read side of a read/write lock: shared with other readers, excluded by a writer. */
export const reader: Primitive = sharedPrimitive('read');

/** A semaphore: at most `limit` holders of the resource at once, each with its own lease. */
export function semaphore(limit: number): Primitive {
  return sharedPrimitive(limit);
}
