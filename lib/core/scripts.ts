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
 * (a late write from our own earlier attempt must not block us).
 *
 * KEYS = the lock's keys, then the node's marker, quarantine and birth keys (amnesia-guard.ts).
 * Rule 15: the reply also says where this node stands, read in the same step, so telling an
 * amnesiac node costs no extra round trip: `{taken, standing, ms, birth, token}` with standing
 * 0 = served (ms = the largest lease recorded here; birth = ms left of the deployment's birth,
 * while its nodes are still being marked), 1 = quarantined (ms = time left), 2 = no marker.
 * The marker keeps the largest lease any client asked of this node. The token comes back so the
 * client can tell a reply meant for another call (a connection out of step) from its own.
 */
export const ACQUIRE = script(
  'acquire',
  `local n = #KEYS - 3
local marker, quarantine, birth = KEYS[n + 1], KEYS[n + 2], KEYS[n + 3]
local lease = tonumber(ARGV[2])
local standing, ms, born = 2, 0, 0
local recorded = tonumber(redis.call('GET', marker))
if recorded then
  if recorded < lease then
    redis.call('SET', marker, lease)
    recorded = lease
  end
  local left = redis.call('PTTL', quarantine)
  if left > 0 then standing, ms = 1, left else standing, ms = 0, recorded end
  born = math.max(redis.call('PTTL', birth), 0)
end
for i = 1, n do
  local holder = redis.call('GET', KEYS[i])
  if holder and holder ~= ARGV[1] then return {0, standing, ms, born, ARGV[1]} end
end
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
end
return {1, standing, ms, born, ARGV[1]}`,
);

/**
 * Rule 11: compare-then-PEXPIRE. Only keys that still hold our token are extended, so an
 * expired lock is never resurrected (a missing key stays missing). Returns 1 or 0.
 * KEYS = the lock's keys, then the node's marker, which records a longer lease.
 */
export const EXTEND = script(
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
 * Rule 15: mark a node as serving this deployment (KEYS[1], the marker, records the largest
 * lease ARGV[1]). With ARGV[2] > 0 its votes stay out for that many ms (KEYS[2], the quarantine,
 * expiring on the node's own clock; never shortened). With ARGV[3] > 0 the deployment is being
 * born: KEYS[3] says so for that many ms, while its other nodes are still being marked.
 */
export const SEAL = script(
  'seal',
  `local lease, window, birth = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local recorded = tonumber(redis.call('GET', KEYS[1]))
if not recorded or recorded < lease then redis.call('SET', KEYS[1], math.max(lease, window)) end
if window > 0 and redis.call('PTTL', KEYS[2]) < window then
  redis.call('SET', KEYS[2], 'lost-data', 'PX', window)
end
if birth > 0 then redis.call('SET', KEYS[3], 'marking', 'PX', birth) end
return 1`,
);

/**
 * Rule 15: the boot sentinel. The script cache is never persisted, so this script is cached on
 * a server exactly when some client ran it since that server process started. A client that
 * gets NOSCRIPT for any of our scripts asks the sentinel by SHA first: NOSCRIPT again means the
 * process is new (restarted, from an RDB snapshot, an AOF or nothing, or a replica promoted),
 * and the sentinel then runs by source with ARGV[1] = '1': if the node has a marker (it served
 * this deployment before), its votes stay out for the largest lease it recorded (or ARGV[2] ms,
 * if longer), since writes acknowledged after its last save may be gone.
 *
 * Its text, with the key prefix in it, must stay the same across releases of this library: a new
 * text would look like a restart of every node to the first client of that release.
 */
export function bootSentinel(keyPrefix: string): LockScript {
  return script(
    'boot-sentinel',
    `-- nestjs-redlock boot sentinel v1, key prefix ${Buffer.from(keyPrefix, 'utf8').toString('hex')}
if ARGV[1] ~= '1' then return 0 end
local recorded = tonumber(redis.call('GET', KEYS[1]))
if not recorded then return 0 end
local window = math.max(recorded, tonumber(ARGV[2]))
if redis.call('PTTL', KEYS[2]) < window then
  redis.call('SET', KEYS[2], 'restarted', 'PX', window)
end
return window`,
  );
}

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
