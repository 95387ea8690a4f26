import { lockScript } from '../nodes/lock-script.js';
import type { Primitive } from './primitive.js';
import { quorumOf } from './quorum.js';
import { keysByRole, wakeChannels } from './resource-keys.js';
import { TAKE_DETAIL, TAKE_PREAMBLE } from './take-reply.js';
import { WAKE_UP } from './wake-up.js';

/**
 * The exclusive hold of a resource: the mutex, which is also the write side of a read/write
 * lock (a plain lock excludes readers and semaphore holders too). Fenced locks (fenced.ts) run
 * the same checks with the fence step in between.
 *
 * Take KEYS per resource, by role: lock, shared, kind, writer-waiting (and fence when fenced).
 * Rule 1: a key already holding *our* token counts as ours (a late write from our own earlier
 * attempt must not block us). A writer that finds shared holders marks itself waiting, so that
 * no new reader or permit joins until it is in (and, harmlessly, until it leaves): a stream of
 * readers cannot starve it.
 */
export function exclusiveTakeSource(fenced: boolean, fair?: { readonly keysPerResource: number; readonly stepBefore: string; readonly stepAfter: string }): string {
  return `${TAKE_PREAMBLE}
local n = (g - 1) / ${fair ? fair.keysPerResource : fenced ? 5 : 4}
${fenced ? FENCE_READ : 'local highest = 0'}
${fair ? fair.stepBefore : ''}
for i = 1, n do
  local holder = redis.call('GET', KEYS[i])
  if holder and holder ~= token then return reply(0, ${TAKE_DETAIL.busy}, redis.call('PTTL', KEYS[i]), highest) end
  -- the kind key lives exactly as long as the shared set: a mutex on its own needs only GET
  if redis.call('GET', KEYS[2 * n + i]) then
    redis.call('ZREMRANGEBYSCORE', KEYS[n + i], '-inf', nodeTime())
    local last = redis.call('ZRANGE', KEYS[n + i], -1, -1, 'WITHSCORES')
    if last[1] then
      local waiting = redis.call('GET', KEYS[3 * n + i])
      if not waiting or waiting == token then redis.call('SET', KEYS[3 * n + i], token, 'PX', lease) end
      return reply(0, ${TAKE_DETAIL.busy}, tonumber(last[2]) - nodeTime(), highest)
    end
  end
end
${fenced ? FENCE_JUDGE : ''}
-- A writer-waiting mark of ours may stay: while we hold the lock it keeps out no one the lock
-- does not, it expires no later than our hold (it was set with the lease, before it), and our
-- release withdraws it. Leaving it spares the hot path a read.
for i = 1, n do
  redis.call('SET', KEYS[i], token, 'PX', lease)
end
${fenced ? FENCE_WRITE : ''}
${fair ? fair.stepAfter : ''}
return reply(1, ${TAKE_DETAIL.taken}, 0, highest)`;
}

/**
 * Fencing (fenced.ts, CORRECTNESS.md): a node accepts the proposed fence ARGV[3] only if every
 * fence it holds for the lock's resources is smaller, and only while it trusts them: a value
 * written in another generation of the node (before it restarted or lost data), or a missing
 * value on a node whose generation changed, may be older than what it acknowledged.
 */
const FENCE_READ = `local current = redis.call('GET', generation) or ''
local proposal = tonumber(ARGV[3])
local highest, doubt = 0, false
for i = 1, n do
  local stored = redis.call('GET', KEYS[4 * n + i])
  if stored then
    local at = string.find(stored, '/', 1, true)
    local value = tonumber(string.sub(stored, 1, at - 1))
    if value > highest then highest = value end
    if string.sub(stored, at + 1) ~= current then doubt = true end
  elseif current ~= '' then
    doubt = true
  end
end`;

/** After the lock checks, so that a busy reply still tells the largest fence (the next proposal learns it). */
const FENCE_JUDGE = `if doubt then return reply(0, ${TAKE_DETAIL.fenceInDoubt}, 0, highest) end
if highest >= proposal then return reply(0, ${TAKE_DETAIL.fenceBehind}, 0, highest) end`;

const FENCE_WRITE = `for i = 1, n do redis.call('SET', KEYS[4 * n + i], ARGV[3] .. '/' .. current) end
highest = proposal`;

/** Rule 11: compare-then-PEXPIRE; KEYS = the lock keys, then the marker, which records a longer lease. */
export const EXCLUSIVE_EXTEND = lockScript(
  'extend',
  `local n = #KEYS - 1
for i = 1, n do
  if redis.call('GET', KEYS[i]) ~= ARGV[1] then return 0 end
end
for i = 1, n do
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
local recorded = tonumber(redis.call('GET', KEYS[n + 1]))
if recorded and recorded < tonumber(ARGV[2]) then redis.call('SET', KEYS[n + 1], ARGV[2]) end
return 1`,
);

/**
 * Rules 7 and 13: compare-and-delete. KEYS = the lock keys, then the writer-waiting keys (a
 * writer that gives up stops holding back readers). ARGV = token, withdraw (1: also delete our
 * writer-waiting mark; 0 between two attempts of one acquire, which keeps it), then each
 * resource's wake channel when wake-ups are on: what we let go of is announced (WAKE_UP). Returns how many lock
 * keys held our token.
 */
export const EXCLUSIVE_GIVE = lockScript(
  'release',
  `local n = #KEYS / 2
local deleted = 0
for i = 1, n do
  local freed = false
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    deleted = deleted + 1
    freed = true
  end
  if ARGV[2] == '1' and redis.call('GET', KEYS[n + i]) == ARGV[1] then
    redis.call('DEL', KEYS[n + i])
    freed = true
  end
  ${WAKE_UP}
end
return deleted`,
);

export const EXCLUSIVE_TAKE = lockScript('acquire', exclusiveTakeSource(false));

/** The mutex: one holder at a time, excluding readers and semaphore holders of the resource. */
export const mutex: Primitive = {
  mode: 'write',
  limit: undefined,
  take: EXCLUSIVE_TAKE,
  extend: EXCLUSIVE_EXTEND,
  give: EXCLUSIVE_GIVE,
  keysFor: (keyPrefix, resources) => ({
    take: keysByRole(keyPrefix, resources, ['lock', 'shared', 'kind', 'writerWaiting']),
    extend: keysByRole(keyPrefix, resources, ['lock']),
    give: keysByRole(keyPrefix, resources, ['lock', 'writerWaiting']),
    wake: wakeChannels(keyPrefix, resources),
  }),
  takeArgs: () => [],
  quorum: quorumOf,
  noHoldsNothingOfOurs: true,
};
