import { describe, expect, it } from '@jest/globals';
import { AmnesiaGuard, BIRTH_MS } from '../../lib/core/nodes/amnesia-guard.js';
import type { NodeOutInfo } from '../../lib/core/nodes/amnesia-guard.js';
import { NodeSet } from '../../lib/core/engine/node-set.js';
import { quorumReturnsIn, verdictOf } from '../../lib/core/engine/verdict.js';
import type { RoundOutcome } from '../../lib/core/engine/round.js';
import { mutex } from '../../lib/core/primitives/mutex.js';
import { FakeClock, settle } from '../support/fake-clock.js';
import { fakeNodes } from '../support/fake-node.js';
import type { FakeNode, FakeStanding } from '../support/fake-node.js';

// Rule 15 with scripted nodes: how the guard reads each node's standing (marker, quarantine, or
// neither) and decides whether its acquire vote counts. Real nodes: restart-guard.test.ts.
const OWN_TTL = 1_000;

/** Each node: its standing (it votes yes), `[standing, 'no']` (held by another owner) or 'error'. */
type Spec = FakeStanding | [FakeStanding, 'no'] | 'error';

function setUp(specs: Spec[], restartGuard: 'largest-ttl' | number = 'largest-ttl') {
  const clock = new FakeClock();
  const out: NodeOutInfo[] = [];
  const nodes = fakeNodes(...specs.map((s) => (s === 'error' ? 'error' : Array.isArray(s) ? 'no' : 'yes')));
  specs.forEach((s, i) => (nodes[i].standing = s === 'error' ? undefined : Array.isArray(s) ? s[0] : s));
  const guard = new AmnesiaGuard({ keyPrefix: 'lock:', clock, restartGuard, ownLargestLease: () => OWN_TTL, onNodeOut: (info) => out.push(info) });
  const nodeSet = new NodeSet(nodes, clock, guard);
  // Votes that arrive after the round was decided still have their effects (seals): let them land.
  const acquire = async (key = 'k'): Promise<RoundOutcome<unknown>> => {
    const outcome = await nodeSet.take(mutex, mutex.keysFor('lock:', [key]), 'token', OWN_TTL, 0, 100);
    await settle();
    return outcome;
  };
  return { clock, nodes, out, acquire };
}

const served = (largestLease = OWN_TTL): FakeStanding => ({ kind: 'served', largestLease });
const unmarked: FakeStanding = { kind: 'unmarked' };
// The lease, quarantine window and birth a seal wrote (its last argument, a generation id, is not about timing).
const seals = (node: FakeNode) => node.calls.filter((c) => c.script === 'seal').map((c) => c.args.slice(0, 3).map(Number));

describe('the amnesia guard (rule 15) with scripted nodes', () => {
  it('a fresh deployment (every node answers, none has a marker) is marked and counts in the first round', async () => {
    const { nodes, acquire, out } = setUp([unmarked, unmarked, unmarked]);
    const outcome = await acquire();
    expect(verdictOf(outcome, 3)).toBe('won');
    expect(outcome.errors).toEqual([]);
    // Every node is marked (no quarantine) before any vote counted.
    for (const node of nodes) expect(seals(node)).toEqual([[OWN_TTL, 0, BIRTH_MS]]);
    expect(out).toEqual([]);
  });

  it('without every node answering, a node without a marker does not count: it may have lost its data', async () => {
    const { nodes, acquire, out } = setUp([unmarked, unmarked, 'error']);
    const outcome = await acquire();
    expect(verdictOf(outcome, 3)).toBe('unavailable');
    expect(outcome.errors.map((e) => e.message)).toEqual(
      expect.arrayContaining(['fake node 2 failed', expect.stringMatching(/no marker and not every node answered/)]),
    );
    expect(nodes.flatMap(seals)).toEqual([]);
    expect(out.map((o) => [o.node, o.countsAgainInMs])).toEqual([[0, undefined], [1, undefined]]);
  });

  it('a node without its marker while another has one lost its data: sealed, and out for the largest lease recorded', async () => {
    // Node 1 says busy, so the round waits for node 2's verdict.
    const { nodes, acquire, out } = setUp([served(5_000), [served(2_000), 'no'], unmarked]);
    const outcome = await acquire();
    expect(verdictOf(outcome, 3)).toBe('busy');
    expect(outcome.yes).toBe(1);
    expect(outcome.errors).toEqual([
      expect.objectContaining({ node: 2, countsAgainInMs: 5_000, message: expect.stringMatching(/lost its data.*count again in 5000 ms/) }),
    ]);
    expect(seals(nodes[2])).toEqual([[OWN_TTL, 5_000, 0]]);
    expect(out).toEqual([{ node: 2, address: 'fake-2', reason: expect.stringMatching(/lost its data/), countsAgainInMs: 5_000 }]);
  });

  it('a client that saw a node serve treats it as amnesiac later, even when no other node answers', async () => {
    const { nodes, acquire, out } = setUp([served(), served(), served()]);
    expect(verdictOf(await acquire('a'), 3)).toBe('won');
    nodes[0].standing = unmarked;
    nodes[1].behaviour = 'error';
    nodes[2].behaviour = 'error';
    const outcome = await acquire('b');
    expect(verdictOf(outcome, 3)).toBe('unavailable');
    expect(seals(nodes[0])).toEqual([[OWN_TTL, OWN_TTL, 0]]);
    expect(out).toEqual([expect.objectContaining({ node: 0, countsAgainInMs: OWN_TTL })]);
  });

  it('a quarantined node does not count, says when it counts again, and is reported once per episode', async () => {
    const { nodes, acquire, out } = setUp([{ kind: 'quarantined', ms: 700 }, served(), [served(), 'no']]);
    const first = await acquire('a');
    expect(first.errors).toEqual([expect.objectContaining({ node: 0, countsAgainInMs: 700 })]);
    nodes[0].standing = { kind: 'quarantined', ms: 300 };
    await acquire('b');
    expect(out.map((o) => [o.node, o.countsAgainInMs])).toEqual([[0, 700]]);
    nodes[0].standing = served(); // the quarantine ended
    expect((await acquire('c')).yes).toBe(2);
    nodes[0].standing = { kind: 'quarantined', ms: 900 }; // a new episode is reported again
    await acquire('d');
    expect(out.map((o) => [o.node, o.countsAgainInMs])).toEqual([[0, 700], [0, 900]]);
  });

  it('rounds that started before this client marked a fresh deployment count their unmarked replies; later ones do not', async () => {
    const { nodes, acquire } = setUp([unmarked, unmarked, unmarked]);
    // Two rounds on the wire at once, both read the nodes before any marker was written.
    const [a, b] = await Promise.all([acquire('a'), acquire('b')]);
    expect([a.errors, b.errors]).toEqual([[], []]);
    expect([verdictOf(a, 3), verdictOf(b, 3)]).toEqual(['won', 'won']);
    for (const node of nodes) expect(seals(node)).toEqual([[OWN_TTL, 0, BIRTH_MS]]); // marked once, no quarantine
    // Node 1 now answers without a marker again: it lost it after being marked.
    nodes[1].standing = unmarked;
    nodes[2].behaviour = 'no';
    const later = await acquire('c');
    expect(later.errors).toEqual([expect.objectContaining({ node: 1, countsAgainInMs: OWN_TTL })]);
  });

  it('a node not yet marked while another client marks a fresh deployment sits out, but is not quarantined', async () => {
    const { nodes, acquire, out } = setUp([served(), unmarked, unmarked]);
    nodes[0].birthMs = 1_500; // node 0 was just marked by another client
    const outcome = await acquire();
    expect(verdictOf(outcome, 3)).toBe('unavailable');
    expect(outcome.errors).toEqual([1, 2].map((node) => expect.objectContaining({ node, message: expect.stringMatching(/being marked/) })));
    expect(nodes.flatMap(seals)).toEqual([]);
    expect(out.map((o) => o.countsAgainInMs)).toEqual([undefined, undefined]);
  });

  it('restartGuard: a number is the least time out, below a longer lease recorded on the nodes', async () => {
    const longer = setUp([served(500), [served(500), 'no'], unmarked], 3_000);
    expect((await longer.acquire()).errors[0]).toMatchObject({ countsAgainInMs: 3_000 });
    const recorded = setUp([served(8_000), [served(500), 'no'], unmarked], 3_000);
    expect((await recorded.acquire()).errors[0]).toMatchObject({ countsAgainInMs: 8_000 });
  });

  it('restartGuard: false counts every vote and writes nothing', async () => {
    const { nodes, acquire } = setUp([unmarked, { kind: 'quarantined', ms: 900 }, 'error'], 0);
    const outcome = await acquire();
    expect(verdictOf(outcome, 3)).toBe('won');
    expect(nodes.flatMap(seals)).toEqual([]);
  });

  it('the census leaves no timer behind once every node answered', async () => {
    const { clock, acquire } = setUp([unmarked, unmarked, unmarked]);
    await acquire();
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('when a quorum counts again (Retry-After of a 503)', () => {
  const errors = (...known: (number | undefined)[]): RoundOutcome<unknown> => ({
    values: [],
    yes: 0,
    no: 0,
    pending: 0,
    quorum: 2, // of the 3 nodes the calls below name
    errors: known.map((countsAgainInMs, node) => ({ node, address: `n${node}`, message: 'x', ...(countsAgainInMs === undefined ? {} : { countsAgainInMs }) })),
  });

  it('is the soonest moment enough failed nodes are back, when that is known', () => {
    expect(quorumReturnsIn(errors(900, 500), 3)).toBe(500); // one of two back is enough for 2 of 3
    expect(quorumReturnsIn(errors(900, 500, 700), 3)).toBe(700); // two of three must come back
    expect(quorumReturnsIn(errors(undefined, 400), 3)).toBe(400);
    expect(quorumReturnsIn(errors(undefined, 400, undefined), 3)).toBeUndefined();
    expect(quorumReturnsIn(errors(undefined, undefined), 3)).toBeUndefined();
  });
});
