import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { RedlockConfigError } from '../errors.js';

/** What one fenced write did. */
export interface FencedWriteResult {
  /** The value was stored (the fence was at least the largest the store had seen for the key). */
  readonly written: boolean;
  /** The largest fence the store has seen for the key, after this call. */
  readonly highestFence: number;
}

export interface FencedWriteOptions {
  /**
   * Where the store keeps the largest fence seen for `key`. Default: see defaultFenceKey().
   * On a Redis Cluster it must hash to the same slot as `key` (else Redis answers CROSSSLOT).
   */
  readonly fenceKey?: string;
}

/**
 * The protected store's half of fencing, for a Redis used as the data store: the write lands
 * only if `fence` is at least the largest fence this store has seen for the key. A lock holder
 * that was paused past its lease (GC, swap, a stalled network) still believes it holds the lock
 * and may write late; the lock service cannot stop that write, but the store can, because the
 * holder who took the lock after it carries a larger fence and got here first.
 *
 * An equal fence is allowed: it is the same holder writing again. Check and write happen in one
 * Lua script, so no other write can come between them.
 */
export async function fencedWrite(
  client: Redis | Cluster,
  key: string,
  value: string | number,
  fence: number,
  options?: FencedWriteOptions,
): Promise<FencedWriteResult> {
  if (client === null || typeof client !== 'object' || typeof (client as Redis).evalsha !== 'function') {
    throw new RedlockConfigError('client', 'must be an ioredis Redis or Cluster client');
  }
  checkKey('key', key);
  if (typeof value === 'number' ? !Number.isFinite(value) : typeof value !== 'string') {
    throw new RedlockConfigError('value', 'must be a string or a finite number');
  }
  if (typeof fence !== 'number' || !Number.isSafeInteger(fence) || fence < 1) {
    throw new RedlockConfigError('fence', `must be a positive safe integer (a lock's \`fence\`), got ${String(fence)}`);
  }
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new RedlockConfigError('options', 'must be an object');
  }
  let fenceKey: string;
  if (options?.fenceKey === undefined) {
    fenceKey = defaultFenceKey(key);
  } else {
    checkKey('options.fenceKey', options.fenceKey);
    if (options.fenceKey === key) throw new RedlockConfigError('options.fenceKey', 'must differ from key');
    fenceKey = options.fenceKey;
  }

  const reply = await runScript(client, [key, fenceKey], [String(value), String(fence)]);
  const [written, highest] = reply as [number, number];
  return { written: written === 1, highestFence: Number(highest) };
}

/**
 * The fence key used when none is given, chosen so that a Redis Cluster puts it in `key`'s
 * hash slot (a script may only touch keys of one slot):
 * - `key` has a hash tag (`user:{42}:stock`): `<key>:fence`; the tag, which alone decides the
 *   slot, stays the first one.
 * - otherwise the whole key decides the slot, so the fence key tags it whole: `{<key>}:fence`.
 *   That is impossible when the key holds a `}` but no tag (a tag cannot contain `}`): then
 *   pass `fenceKey` yourself.
 */
export function defaultFenceKey(key: string): string {
  checkKey('key', key);
  if (hashTagOf(key) !== undefined) return `${key}:fence`;
  if (key.includes('}')) {
    throw new RedlockConfigError(
      'options.fenceKey',
      `required for key "${key}": it contains "}" without a hash tag, so no default fence key can share its Cluster slot`,
    );
  }
  return `{${key}}:fence`;
}

/** Redis Cluster's rule: the text between the first `{` and the first `}` after it, if not empty. */
function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return undefined;
  return key.slice(open + 1, close);
}

function checkKey(field: string, key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) throw new RedlockConfigError(field, 'must be a non-empty string');
}

/**
 * KEYS = the value's key, the fence key; ARGV = value, fence. Returns {written (1/0), highest}.
 * The fence key holds the largest fence as a decimal string; anything else there is an error
 * rather than a silent 0, which would let any holder write.
 */
const SOURCE = `local stored = redis.call('GET', KEYS[2])
local highest = 0
if stored then
  highest = tonumber(stored)
  if not highest then return redis.error_reply('fence key ' .. KEYS[2] .. ' does not hold a number') end
end
local fence = tonumber(ARGV[2])
if fence < highest then return {0, stored} end
redis.call('SET', KEYS[1], ARGV[1])
if fence > highest then redis.call('SET', KEYS[2], ARGV[2]) end
return {1, ARGV[2]}`;
const SHA = createHash('sha1').update(SOURCE).digest('hex');

/** EVALSHA, and EVAL once when the server's script cache does not have it (new or restarted server). */
async function runScript(client: Redis | Cluster, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await client.evalsha(SHA, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return client.eval(SOURCE, keys.length, ...keys, ...args);
  }
}
