import { RESERVED_RESOURCE_PREFIX } from './reserved-keys.js';
import { slotOfKey, slotTag } from './hash-slots.js';

/** One script's keys as a Cluster voter runs them: all in `slot`. */
export interface SlottedKeys {
  readonly keys: string[];
  readonly slot: number;
}

/** The keys of one call do not share a hash slot (a lock over resources in different slots). */
export class CrossSlotKeys extends Error {
  constructor(readonly slots: readonly number[]) {
    super(`the keys of one call fall in ${slots.length} hash slots (${slots.join(', ')}); on a Redis Cluster a lock's resources must share one (give them a common {hash tag})`);
    this.name = 'CrossSlotKeys';
  }
}

/**
 * The key layout of a Cluster voter. The engine lays out every lock's keys once, for all
 * voters, as a plain node names them (primitives/resource-keys.ts); a Cluster voter translates
 * them here, so that each script's keys share one hash slot, and plain nodes keep their names.
 *
 * - A resource's lock key (`prefix + resource`) is left as it is: its slot is the resource's
 *   slot, decided as Redis decides it (a `{tag}` in the resource name puts resources together).
 * - The library's records of the resource (`prefix + __redlock__:<role>:<resource>`) get the tag
 *   of that slot before the resource name: `prefix + __redlock__:<role>:{<tag>}<resource>`. The
 *   tag is the first `{…}` of the key (the prefix has no braces: redlock.ts refuses one on a
 *   Cluster), so braces in the resource name change nothing.
 * - The node's guard keys (marker, quarantine, birth, generation) exist once per slot:
 *   `prefix + __redlock__:<name>:{<tag>}`, in the slot of the call's resources (rule 15 guards each
 *   slot apart: a shard that fails over or restarts empty loses its slots only).
 *
 * A role's name never holds ':' (resource-keys.ts), so the resource is what follows the first ':'.
 */
export class ClusterKeyMap {
  private readonly reserved: string;

  constructor(
    private readonly keyPrefix: string,
    /** The plain names of the node's guard keys (amnesia-guard.ts). */
    private readonly guardKeys: readonly string[],
  ) {
    this.reserved = keyPrefix + RESERVED_RESOURCE_PREFIX;
  }

  /**
   * The call's keys in their slot. Rejects keys of resources in different slots, and a call with
   * guard keys only unless `slot` says where (marking a fresh deployment, slot by slot).
   */
  map(keys: readonly string[], slot?: number): SlottedKeys {
    const slots = new Set<number>(slot === undefined ? [] : [slot]);
    const parsed = keys.map((key) => {
      if (this.guardKeys.includes(key)) return { key, guard: true as const };
      const resource = this.resourceOf(key);
      const resourceSlot = slotOfKey(this.keyPrefix + resource);
      slots.add(resourceSlot);
      return { key, guard: false as const, resource, resourceSlot };
    });
    if (slots.size !== 1) {
      if (slots.size === 0) throw new Error('a call on a Cluster voter names no resource, so its hash slot is unknown');
      throw new CrossSlotKeys([...slots].sort((a, b) => a - b));
    }
    const [callSlot] = slots as unknown as [number];
    const tag = `{${slotTag(callSlot)}}`;
    return {
      slot: callSlot,
      keys: parsed.map((p) => {
        if (p.guard) return `${p.key}:${tag}`;
        if (p.key === this.keyPrefix + p.resource) return p.key;
        const role = p.key.slice(this.reserved.length, p.key.length - p.resource.length);
        return `${this.reserved}${role}${tag}${p.resource}`;
      }),
    };
  }

  /** The slot a lock over `resources` runs in on a Cluster voter, or CrossSlotKeys. */
  slotOfResources(resources: readonly string[]): number {
    return this.map(resources.map((r) => this.keyPrefix + r)).slot;
  }

  /** The resource a plain key belongs to. */
  private resourceOf(key: string): string {
    if (key.startsWith(this.reserved)) {
      const colon = key.indexOf(':', this.reserved.length);
      if (colon === -1) throw new Error(`not a key of a resource: ${key}`);
      return key.slice(colon + 1);
    }
    if (!key.startsWith(this.keyPrefix)) throw new Error(`not one of this Redlock's keys: ${key}`);
    return key.slice(this.keyPrefix.length);
  }
}
