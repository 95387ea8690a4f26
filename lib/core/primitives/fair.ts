import { lockScript } from '../nodes/lock-script.js';
import { exclusiveTakeSource, mutex } from './mutex.js';
import type { Primitive } from './primitive.js';
import { keysByRole } from './resource-keys.js';
import { TAKE_DETAIL } from './take-reply.js';
import { WAKE_UP_NEXT_IN_LINE } from './wake-up.js';

/**
 * A fair lock: the mutex, taken only by the waiter first in line. Each node keeps the line of a
 * resource (token -> ticket) and when each place lapses (token -> deadline on the node's clock):
 * a waiter that gave up leaves the line at once (its last clean-up), one that died or was paused
 * leaves it when its place lapses, so nobody behind it waits for it for long.
 *
 * Tickets: a waiter's first take gets one from each node's counter; every later take proposes the
 * largest ticket the nodes answered (ARGV[3]) and each node moves the waiter's place to it. So the
 * waiters that a quorum has seen stand in the same order on every node (ties go by token), and the
 * one first on a quorum is the one that gets the lock. ARGV[4] = how long a place lasts, ms.
 * Take KEYS per resource: lock, shared, kind, writer-waiting, queue, queue-deadline, queue-ticket.
 */
const FAIR_BEFORE = `local ticket = tonumber(ARGV[3])
local entry = tonumber(ARGV[4])
local lapse = nodeTime()
for i = 1, n do
  local line, lapses = KEYS[4 * n + i], KEYS[5 * n + i]
  for _, gone in ipairs(redis.call('ZRANGEBYSCORE', lapses, '-inf', lapse)) do redis.call('ZREM', line, gone) end
  redis.call('ZREMRANGEBYSCORE', lapses, '-inf', lapse)
end
if ticket == 0 then
  for i = 1, n do
    local mine = tonumber(redis.call('ZSCORE', KEYS[4 * n + i], token)) or redis.call('INCR', KEYS[6 * n + i])
    if mine > ticket then ticket = mine end
  end
end
highest = ticket
local first = true
for i = 1, n do
  local line, lapses, counter = KEYS[4 * n + i], KEYS[5 * n + i], KEYS[6 * n + i]
  if (tonumber(redis.call('GET', counter)) or 0) < ticket then redis.call('SET', counter, ticket) end
  redis.call('ZADD', line, ticket, token)
  redis.call('ZADD', lapses, lapse + entry, token)
  for _, key in ipairs({line, lapses, counter}) do redis.call('PEXPIRE', key, 2 * entry) end
  local head = redis.call('ZRANGE', line, 0, 0)
  if head[1] ~= token then first = false end
end
if not first then
  local left = redis.call('PTTL', KEYS[1])
  return reply(0, ${TAKE_DETAIL.busy}, left > 0 and left or 0, ticket)
end`;

/** Taken: out of the line. */
const FAIR_AFTER = `for i = 1, n do
  redis.call('ZREM', KEYS[4 * n + i], token)
  redis.call('ZREM', KEYS[5 * n + i], token)
end`;

export const FAIR_TAKE = lockScript('acquire-fair', exclusiveTakeSource(false, { keysPerResource: 7, stepBefore: FAIR_BEFORE, stepAfter: FAIR_AFTER }));

/**
 * Rules 7 and 13 for a fair lock: compare-and-delete; with withdraw (ARGV[2] = 1: the waiter gives
 * up, or the holder releases) it also leaves the line and drops its writer-waiting mark. What it
 * frees is announced with the token first in line now (places that lapsed dropped first), so the
 * one waiter that may go is the one woken. KEYS = locks, writer-waiting marks, lines, lapses;
 * ARGV = token, withdraw, wake channels.
 */
const FAIR_GIVE = lockScript(
  'release-fair',
  `local n = #KEYS / 4
local deleted = 0
local now
for i = 1, n do
  local freed = false
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    deleted = deleted + 1
    freed = true
  end
  local line, lapses = KEYS[2 * n + i], KEYS[3 * n + i]
  if ARGV[2] == '1' then
    if redis.call('GET', KEYS[n + i]) == ARGV[1] then
      redis.call('DEL', KEYS[n + i])
      freed = true
    end
    -- leaving the line may let the next one in
    if redis.call('ZREM', line, ARGV[1]) == 1 then freed = true end
    redis.call('ZREM', lapses, ARGV[1])
  end
  local next = false
  if freed and ARGV[2 + i] then
    if not now then
      local clock = redis.call('TIME')
      now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
    end
    for _, gone in ipairs(redis.call('ZRANGEBYSCORE', lapses, '-inf', now)) do redis.call('ZREM', line, gone) end
    redis.call('ZREMRANGEBYSCORE', lapses, '-inf', now)
    next = redis.call('ZRANGE', line, 0, 0)[1]
  end
  ${WAKE_UP_NEXT_IN_LINE}
end
return deleted`,
);

export const fairMutex: Primitive = {
  ...mutex,
  take: FAIR_TAKE,
  give: FAIR_GIVE,
  keysFor: (keyPrefix, resources) => ({
    ...mutex.keysFor(keyPrefix, resources),
    take: keysByRole(keyPrefix, resources, ['lock', 'shared', 'kind', 'writerWaiting', 'queue', 'queueDeadline', 'queueTicket']),
    give: keysByRole(keyPrefix, resources, ['lock', 'writerWaiting', 'queue', 'queueDeadline']),
  }),
  takeArgs: (ticket, entryMs) => [ticket, entryMs],
  noHoldsNothingOfOurs: false,
  namesNextInLine: true,
};
