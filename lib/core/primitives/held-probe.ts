import { lockScript } from '../nodes/lock-script.js';
import { keysByRole } from './resource-keys.js';

/**
 * Whether anyone holds a resource on one node, in any mode: an exclusive holder (the lock key), or
 * a shared holder (reader or permit) whose lease still runs on the node's clock. KEYS = lock,
 * shared. Reads only: a probe never changes what it looks at.
 */
export const HELD_PROBE = lockScript(
  'is-held',
  `if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf') > 0 then return 1 end
return 0`,
);

export function heldProbeKeys(keyPrefix: string, resource: string): string[] {
  return keysByRole(keyPrefix, [resource], ['lock', 'shared']);
}
