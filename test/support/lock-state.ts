import type { Redis } from 'ioredis';
import { libraryKey } from '../../lib/core/nodes/reserved-keys.js';
import { resourceKeys } from '../../lib/core/primitives/resource-keys.js';

// What the lock scripts left on a node, read with plain commands (no library script runs, so
// reading never trips the boot sentinel). Key names come from the engine's own layout.

const GUARD = ['marker', 'quarantine', 'birth', 'generation'];

/**
 * Every lock key under `keyPrefix` on the node with its value (a string's value; a sorted set's
 * members with their scores), leaving out the guard keys and the fences, which are permanent by
 * design. Two dumps are equal when no hold, permit, kind or writer-waiting mark came or went.
 */
export async function lockKeysOn(client: Redis, keyPrefix = 'lock:'): Promise<Record<string, string>> {
  const skip = new Set(GUARD.map((name) => libraryKey(keyPrefix, name)));
  const fences = libraryKey(keyPrefix, 'fence:');
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1_000);
    cursor = next;
    keys.push(...batch.filter((key) => !skip.has(key) && !key.startsWith(fences)));
  } while (cursor !== '0');
  const dump: Record<string, string> = {};
  for (const key of [...new Set(keys)].sort()) {
    const type = await client.type(key);
    if (type === 'string') dump[key] = (await client.get(key)) ?? '';
    else if (type === 'zset') dump[key] = (await client.zrange(key, '0', '-1', 'WITHSCORES')).join(' ');
    else if (type !== 'none') dump[key] = `<${type}>`;
  }
  return dump;
}

/** A fence as a node stores it: the value and the node generation it was written in. */
export interface StoredFence {
  readonly value: number;
  readonly generation: string;
}

export async function fenceOn(client: Redis, resource: string, keyPrefix = 'lock:'): Promise<StoredFence | undefined> {
  const stored = await client.get(resourceKeys(keyPrefix, resource).fence);
  if (stored === null) return undefined;
  const at = stored.indexOf('/');
  return { value: Number(stored.slice(0, at)), generation: stored.slice(at + 1) };
}

/** The node's current generation ('' until it was found restarted or amnesiac). */
export async function generationOn(client: Redis, keyPrefix = 'lock:'): Promise<string> {
  return (await client.get(libraryKey(keyPrefix, 'generation'))) ?? '';
}
