import { describe, expect, it } from '@jest/globals';
import { AmnesiaGuard, SLOT_MARKING_MS } from '../../lib/core/nodes/amnesia-guard.js';
import type { NodeOutInfo } from '../../lib/core/nodes/amnesia-guard.js';
import type { LockNode, SlottedVoter } from '../../lib/core/nodes/lock-node.js';
import type { LockScript } from '../../lib/core/nodes/lock-script.js';
import { NodeSet } from '../../lib/core/engine/node-set.js';
import { verdictOf } from '../../lib/core/engine/verdict.js';
import { mutex } from '../../lib/core/primitives/mutex.js';
import { FakeClock, settle } from '../support/fake-clock.js';

// Rule 15 per hash slot, with scripted Cluster voters: marking a fresh deployment takes a while
// on a Cluster voter (every slot), and the guard must still tell a slot that lost its data from
// one not marked yet. Real clusters: cluster-voters.test.ts.
const TTL = 1_000;

/** A scripted Cluster voter: resource `s<N>` lives in slot N; marks land when the test says so. */
class SlottedFake implements LockNode {
  readonly marked = new Set<number>();
  readonly sealedWithWindow: number[] = [];
  private readonly gates = new Map<number, { promise: Promise<void>; open: () => void }>();
  readonly slotted: SlottedVoter;
  /** What a marked slot says of the deployment's birth (ms left), as another client's marking leaves it. */
  birthMs = 0;

  constructor(
    readonly index: number,
    readonly address = `cluster ${index}`,
  ) {
    const slotOf = (keys: readonly string[]) => {
      const match = /s(\d+)/.exec(keys.find((k) => /s\d+/.test(k)) ?? '');
      if (!match) throw new Error('no slot');
      return Number(match[1]);
    };
    this.slotted = {
      slotOf,
      runInEverySlot: (_script, _keys, _args, first, onDone) => {
        const slot = (s: number) =>
          this.gate(s).promise.then(() => {
            this.marked.add(s);
            onDone?.(s);
          });
        const all = Promise.all([first, 0, 1, 2].filter((s): s is number => s !== undefined).map(slot)).then(() => undefined);
        return { all, slot };
      },
    };
  }

  /** Let the marking of slot `s` land. */
  mark(s: number): void {
    this.gate(s).open();
  }

  async run(script: LockScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const slot = this.slotted.slotOf(keys);
    if (script.name === 'seal') {
      this.marked.add(slot);
      if (Number(args[1]) > 0) this.sealedWithWindow.push(slot);
      return 1;
    }
    // A take: free, and it reports the slot's standing (2 = unmarked, 1 = quarantined, 0 = served).
    const standing = this.sealedWithWindow.includes(slot) ? 1 : this.marked.has(slot) ? 0 : 2;
    return [1, standing, TTL, standing === 0 ? this.birthMs : 0, String(args[0]), 0, 0, 0];
  }

  private gate(s: number) {
    let gate = this.gates.get(s);
    if (!gate) {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => (open = resolve));
      gate = { promise, open };
      this.gates.set(s, gate);
    }
    return gate;
  }
}

function setUp(marked: readonly number[] = []) {
  const clock = new FakeClock();
  const out: NodeOutInfo[] = [];
  const nodes = [new SlottedFake(0), new SlottedFake(1), new SlottedFake(2)];
  for (const node of nodes) for (const slot of marked) node.marked.add(slot);
  const guard = new AmnesiaGuard({ keyPrefix: 'lock:', clock, restartGuard: 'largest-ttl', ownLargestLease: () => TTL, onNodeOut: (info) => out.push(info) });
  const nodeSet = new NodeSet(nodes, clock, guard);
  const take = (resource: string) => nodeSet.take(mutex, mutex.keysFor('lock:', [resource]), `token-${resource}`, TTL, 0, 100_000);
  return { nodes, out, take, clock };
}

describe('the amnesia guard per hash slot (scripted Cluster voters)', () => {
  it('the round that found the deployment fresh counts once its own slot is marked on every voter, not all slots', async () => {
    const { nodes, take } = setUp();
    const round = take('s1');
    await settle();
    for (const node of nodes) node.mark(1);
    const outcome = await round;
    expect(verdictOf(outcome, 3)).toBe('won');
    expect(nodes.every((n) => !n.marked.has(0) && !n.marked.has(2))).toBe(true); // the others are still being marked
  });

  it('a slot marked before a round started and unmarked in it lost its data, even while other slots are still being marked', async () => {
    const { nodes, out, take } = setUp();
    const first = take('s1');
    await settle();
    for (const node of nodes) node.mark(1);
    await first;
    for (const node of nodes) node.mark(2);
    await settle();
    // Voter 0's shard of slot 2 restarts empty while slot 0 is still being marked.
    nodes[0]!.marked.delete(2);
    // Voters 1 and 2 are a quorum: the round may be decided before voter 0's vote is judged.
    await take('s2');
    await settle();
    expect(nodes[0]!.sealedWithWindow).toEqual([2]); // quarantined, not counted as fresh
    expect(out).toEqual([expect.objectContaining({ node: 0, slot: 2, countsAgainInMs: TTL })]);
  });

  it('a slot not marked yet when its round started waits for its mark and counts', async () => {
    const { nodes, take } = setUp();
    const first = take('s1');
    await settle();
    for (const node of nodes) node.mark(1);
    await first;
    const second = take('s0'); // slot 0 is still being marked on every voter
    await settle();
    for (const node of nodes) node.mark(0);
    expect(verdictOf(await second, 3)).toBe('won');
  });

  it('another process is still marking the slots: an unmarked slot sits out instead of being quarantined, for SLOT_MARKING_MS after the last birth seen', async () => {
    // Slot 1 was marked by another process a moment ago (its birth still shows); slot 2 is not marked yet.
    const { nodes, out, take, clock } = setUp([1]);
    for (const node of nodes) node.birthMs = 800;
    await take('s1');
    await settle();
    await clock.advance(2_000); // well past BIRTH_MS: a plain node would be sealed now
    await take('s2');
    await settle();
    expect(nodes.flatMap((n) => n.sealedWithWindow)).toEqual([]);
    expect(out.map((o) => [o.node, o.slot, o.reason])).toEqual([0, 1, 2].map((n) => [n, 2, expect.stringMatching(/being marked/)]));
    // Nobody marked it within SLOT_MARKING_MS: now it is taken for one that lost its data.
    for (const node of nodes) node.birthMs = 0;
    await clock.advance(SLOT_MARKING_MS);
    await take('s2');
    await settle();
    expect(nodes.map((n) => n.sealedWithWindow)).toEqual([[2], [2], [2]]);
  });
});
