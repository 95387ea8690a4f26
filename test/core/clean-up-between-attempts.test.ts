import { describe, expect, it } from '@jest/globals';
import { NodeSet } from '../../lib/core/engine/node-set.js';
import type { RoundOutcome } from '../../lib/core/engine/round.js';
import { AmnesiaGuard } from '../../lib/core/nodes/amnesia-guard.js';
import { fairMutex } from '../../lib/core/primitives/fair.js';
import { mutex } from '../../lib/core/primitives/mutex.js';
import type { Primitive } from '../../lib/core/primitives/primitive.js';
import { FakeClock } from '../support/fake-clock.js';
import { fakeNodes } from '../support/fake-node.js';
import type { FakeNode } from '../support/fake-node.js';

// Rule 7 between two attempts of one call (node-set.ts cleanUpAfterLostAttempt), on scripted
// nodes: which nodes the clean-up goes to, and which are remembered for the next one.
const TTL = 900;

function setOf(nodes: FakeNode[]) {
  const clock = new FakeClock();
  const guard = new AmnesiaGuard({ keyPrefix: 'lock:', clock, restartGuard: 0, ownLargestLease: () => TTL, onNodeOut: () => undefined });
  return { clock, nodeSet: new NodeSet(nodes, clock, guard) };
}

/** A lost round of three nodes: node 0 said yes, node 1 no, node 2 was not heard. */
const lost: RoundOutcome<{ readonly standing: { readonly taken: boolean } }> = {
  yes: 1,
  no: 1,
  errors: [],
  pending: 1,
  quorum: 2,
  values: [{ standing: { taken: true } }, { standing: { taken: false } }, undefined],
};

const gives = (node: FakeNode) => node.calls.filter((c) => c.script.startsWith('release')).length;

async function cleanUp(nodeSet: NodeSet, clock: FakeClock, primitive: Primitive, resources: string[], uncleaned: ReadonlySet<number> = new Set()) {
  const done = nodeSet.cleanUpAfterLostAttempt(primitive, primitive.keysFor('lock:', resources), 'token', resources.length, 50, lost, uncleaned);
  await clock.advance(100);
  return done;
}

describe('the clean-up between two attempts', () => {
  it('of a one-resource mutex: to the node that said yes and the one not heard, not to the one that said no', async () => {
    const nodes = fakeNodes('yes', 'yes', 'yes');
    const { clock, nodeSet } = setOf(nodes);
    expect(await cleanUp(nodeSet, clock, mutex, ['r'])).toEqual(new Set());
    expect(nodes.map(gives)).toEqual([1, 0, 1]);
  });

  it('also to a node whose clean-up did not answer last time, whatever it said since', async () => {
    const nodes = fakeNodes('yes', 'yes', 'yes');
    const { clock, nodeSet } = setOf(nodes);
    await cleanUp(nodeSet, clock, mutex, ['r'], new Set([1]));
    expect(nodes.map(gives)).toEqual([1, 1, 1]);
  });

  it('remembers the nodes whose clean-up did not answer (hung or failed) for the next one', async () => {
    const nodes = fakeNodes('hang', 'yes', 'error');
    const { clock, nodeSet } = setOf(nodes);
    expect(await cleanUp(nodeSet, clock, mutex, ['r'])).toEqual(new Set([0, 2]));
    nodes[0]!.wake();
  });

  it.each([
    ['a fair lock', fairMutex, ['r']],
    ['a lock over two resources', mutex, ['r', 's']],
  ])('of %s: to all N, the node that said no included', async (_, primitive, resources) => {
    const nodes = fakeNodes('yes', 'yes', 'yes');
    const { clock, nodeSet } = setOf(nodes);
    await cleanUp(nodeSet, clock, primitive, resources);
    expect(nodes.map(gives)).toEqual([1, 1, 1]);
  });
});
