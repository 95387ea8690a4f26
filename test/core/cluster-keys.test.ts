import { describe, expect, it } from '@jest/globals';
import { ClusterKeyMap, CrossSlotKeys } from '../../lib/core/nodes/cluster-keys.js';
import { HASH_SLOTS, slotOfKey, slotTag } from '../../lib/core/nodes/hash-slots.js';
import { fairMutex } from '../../lib/core/primitives/fair.js';
import { fencedMutex } from '../../lib/core/primitives/fenced.js';
import { mutex } from '../../lib/core/primitives/mutex.js';
import { reader } from '../../lib/core/primitives/shared.js';

// The key layout of a Cluster voter, without a server: every key of one call in the slot of its
// resources, the lock key unchanged. CLUSTER KEYSLOT on real servers: cluster-voters.test.ts.
const GUARD = ['lock:__redlock__:marker', 'lock:__redlock__:quarantine', 'lock:__redlock__:birth', 'lock:__redlock__:generation'];
const map = new ClusterKeyMap('lock:', GUARD);

describe('ClusterKeyMap', () => {
  it('puts every key of a take and the guard keys in the resource\'s slot, the lock key unchanged', () => {
    for (const resource of ['order:7', 'a}b{c', '{}x', '{order:42}:items', 'é']) {
      const { keys, slot } = map.map([...mutex.keysFor('lock:', [resource]).take, ...GUARD]);
      expect(slot).toBe(slotOfKey(`lock:${resource}`));
      const tag = `{${slotTag(slot)}}`;
      expect(keys).toEqual([
        `lock:${resource}`,
        `lock:__redlock__:shared:${tag}${resource}`,
        `lock:__redlock__:kind:${tag}${resource}`,
        `lock:__redlock__:writer-waiting:${tag}${resource}`,
        ...GUARD.map((g) => `${g}:${tag}`),
      ]);
      expect(keys.map(slotOfKey)).toEqual(keys.map(() => slot));
      // Every other kind's keys too (a fair lock has the most roles), each one distinct.
      for (const primitive of [fairMutex, fencedMutex, reader]) {
        const all = Object.values(primitive.keysFor('lock:', [resource])).flat().filter((k) => !k.includes('__redlock__:wake:'));
        const mapped = map.map(all).keys;
        expect(mapped.map(slotOfKey)).toEqual(mapped.map(() => slot));
        expect(new Set(mapped).size).toBe(new Set(all).size);
      }
    }
  });

  it('two resources with one hash tag share a slot; two without do not, and the call is refused', () => {
    const together = fencedMutex.keysFor('lock:', ['{order:42}:items', '{order:42}:payment']).take;
    expect(map.map(together).slot).toBe(slotOfKey('order:42'));
    expect(() => map.slotOfResources(['items', 'payment'])).toThrow(CrossSlotKeys);
  });

  it('guard keys alone need the slot to be named, and keys that are not this Redlock\'s are refused', () => {
    expect(() => map.map(GUARD)).toThrow(/names no resource/);
    expect(map.map(GUARD, 123).keys).toEqual(GUARD.map((g) => `${g}:{${slotTag(123)}}`));
    expect(() => map.map(['other:key'])).toThrow(/not one of this Redlock's keys/);
  });

  it('has a tag for every slot, each landing in its own slot', () => {
    const tags = new Set<string>();
    for (let slot = 0; slot < HASH_SLOTS; slot++) {
      expect(slotOfKey(`{${slotTag(slot)}}`)).toBe(slot);
      tags.add(slotTag(slot));
    }
    expect(tags.size).toBe(HASH_SLOTS);
    expect(() => slotTag(HASH_SLOTS)).toThrow(RangeError);
  });
});
