import { lockScript } from './lock-script.js';
import type { LockScript } from './lock-script.js';

/**
 * Rule 15: mark a node as serving this deployment. KEYS = the node's guard keys (marker,
 * quarantine, birth, generation; amnesia-guard.ts). KEYS[1], the marker, records the largest
 * lease ARGV[1]. With ARGV[2] > 0 the node lost its data: its votes stay out for that many ms
 * (KEYS[2], the quarantine, expiring on the node's own clock; never shortened) and its
 * generation (KEYS[4]) becomes ARGV[4], so that fence values it holds are doubted until they are
 * re-seeded (primitives/fenced.ts). With ARGV[3] > 0 the deployment is being born: KEYS[3] says
 * so for that many ms, while its other nodes are still being marked.
 */
export const SEAL = lockScript(
  'seal',
  `local lease, window, birth = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local recorded = tonumber(redis.call('GET', KEYS[1]))
if not recorded or recorded < lease then redis.call('SET', KEYS[1], math.max(lease, window)) end
if window > 0 then
  if redis.call('PTTL', KEYS[2]) < window then redis.call('SET', KEYS[2], 'lost-data', 'PX', window) end
  redis.call('SET', KEYS[4], ARGV[4])
end
if birth > 0 then redis.call('SET', KEYS[3], 'marking', 'PX', birth) end
return 1`,
);

/**
 * What a boot sentinel does once it runs by source on a new server process (ARGV[1] = '1'), over
 * a marker, a quarantine and a generation key. Its text is part of each sentinel's SHA: changing
 * it looks like a restart of every node (or slot) to the first client that runs the new one.
 */
const QUARANTINE_IF_SERVED = `if ARGV[1] ~= '1' then return 0 end
local recorded = tonumber(redis.call('GET', KEYS[1]))
if not recorded then return 0 end
local window = math.max(recorded, tonumber(ARGV[2]))
if redis.call('PTTL', KEYS[2]) < window then
  redis.call('SET', KEYS[2], 'restarted', 'PX', window)
end
redis.call('SET', KEYS[3], ARGV[3])
return window`;

/**
 * Rule 15: the boot sentinel. The script cache is never persisted, so this script is cached on
 * a server exactly when some client ran it since that server process started. A client that
 * gets NOSCRIPT for any of our scripts asks the sentinel by SHA first: NOSCRIPT again means the
 * process is new (restarted, from an RDB snapshot, an AOF or nothing, or a replica promoted),
 * and the sentinel then runs by source with ARGV[1] = '1': if the node has a marker (KEYS[1]: it
 * served this deployment before), its votes stay out (KEYS[2]) for the largest lease it recorded
 * (or ARGV[2] ms, if longer), since writes acknowledged after its last save may be gone, and its
 * generation (KEYS[3]) becomes ARGV[3]: fence values it restored may be older than it acknowledged.
 *
 * Its text, with the key prefix in it, changes only with the version in its first line: a new
 * text looks like a restart of every node to the first client that runs it (one lease out).
 */
export function bootSentinel(keyPrefix: string): LockScript {
  return lockScript(
    'boot-sentinel',
    `-- nestjs-redlock boot sentinel v2, key prefix ${Buffer.from(keyPrefix, 'utf8').toString('hex')}
${QUARANTINE_IF_SERVED}`,
  );
}

/**
 * Rule 15 on a Cluster voter: the boot sentinel of one hash slot. A shard's server process holds
 * thousands of slots, and a script can only touch the keys of one, so one sentinel per process
 * cannot quarantine them all at once: each slot has its own sentinel (its number in the first
 * line gives it its own SHA), which works as bootSentinel above over that slot's guard keys
 * (cluster-keys.ts). A take on a Cluster voter asks its slot's sentinel in the same pipeline
 * (ioredis-node.ts), so the slots of a shard that restarted, or of the replica promoted in its
 * place, are each quarantined before a vote from them counts. Cached per server process: at
 * most one small script per slot that was ever locked (all of them once a fresh deployment was
 * marked).
 */
export function slotBootSentinel(keyPrefix: string, slot: number): LockScript {
  return lockScript(
    'slot-boot-sentinel',
    `-- nestjs-redlock slot boot sentinel v1, slot ${slot}, key prefix ${Buffer.from(keyPrefix, 'utf8').toString('hex')}
${QUARANTINE_IF_SERVED}`,
  );
}

/**
 * A Cluster voter's take met a slot whose boot sentinel was not cached, and the sentinel then
 * quarantined the slot: the take's reply, read before that, must not count (node-set.ts judges
 * it as quarantined for `ms`).
 */
export class SlotRestarted extends Error {
  constructor(
    readonly slot: number,
    readonly ms: number,
  ) {
    super(`hash slot ${slot} is served by a new server process (a restart or a failover): its votes stay out for ${ms} ms`);
    this.name = 'SlotRestarted';
  }
}
