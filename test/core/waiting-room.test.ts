import { describe, expect, it } from '@jest/globals';
import { WaitingRoom } from '../../lib/core/engine/waiting-room.js';
import type { NodeSubscriber } from '../../lib/core/nodes/node-subscriber.js';
import { FakeClock } from '../support/fake-clock.js';

// Pure wake-up logic: which waiter a release heard from a quorum of nodes wakes. Fake
// subscribers that always listen; the real pub/sub path is in wake-ups.test.ts and fair.test.ts.
const listening = (count: number) =>
  Array.from({ length: count }, () => ({ add: async () => undefined, remove: () => undefined, listens: () => true })) as unknown as NodeSubscriber[];

function roomOf(nodes: number) {
  const clock = new FakeClock();
  return { clock, room: new WaitingRoom(clock, nodes, listening(nodes)) };
}

const hearOn = (room: WaitingRoom, nodes: number[], channel: string, message: string) => nodes.forEach((node) => room.heard(node, channel, message));

describe('WaitingRoom', () => {
  it('a plain release wakes the longest waiting one only once a quorum of nodes announced it', async () => {
    const { clock, room } = roomOf(3);
    const first = await room.enter(['ch'], { shared: false, token: 'a', fair: false });
    const second = await room.enter(['ch'], { shared: false, token: 'b', fair: false });
    const ends: string[] = [];
    void first.sleep(1_000, undefined).then((end) => ends.push(`a:${end}`));
    void second.sleep(1_000, undefined).then((end) => ends.push(`b:${end}`));
    hearOn(room, [0], 'ch', 'holder1');
    await clock.advance(0);
    expect(ends).toEqual([]);
    hearOn(room, [1, 2], 'ch', 'holder1'); // the third node's copy wakes nobody more
    await clock.advance(0);
    expect(ends).toEqual(['a:woken']);
    await clock.advance(1_000);
    expect(ends).toEqual(['a:woken', 'b:timer']);
    first.leave();
    second.leave();
  });

  it('a fair release wakes the waiter it names first in line, not the longest waiting one of this process', async () => {
    const { clock, room } = roomOf(3);
    const early = await room.enter(['ch'], { shared: false, token: 'early', fair: true });
    const named = await room.enter(['ch'], { shared: false, token: 'named', fair: true });
    const ends: string[] = [];
    void early.sleep(1_000, undefined).then((end) => ends.push(`early:${end}`));
    void named.sleep(1_000, undefined).then((end) => ends.push(`named:${end}`));
    hearOn(room, [0, 1], 'ch', 'holder1 named');
    await clock.advance(0);
    expect(ends).toEqual(['named:woken']);
    // Someone in another process is first in line: nobody here wakes, and nothing is kept for later.
    hearOn(room, [0, 1, 2], 'ch', 'holder2 elsewhere');
    await clock.advance(0);
    expect(ends).toEqual(['named:woken']);
    const again = named.sleep(50, undefined);
    await clock.advance(50);
    expect(await again).toBe('timer');
    await clock.advance(1_000);
    expect(ends).toEqual(['named:woken', 'early:timer']);
    early.leave();
    named.leave();
  });

  it('a fair waiter named first while it was mid-attempt finds its wake-up when it goes back to sleep', async () => {
    const { clock, room } = roomOf(3);
    const waiter = await room.enter(['ch'], { shared: false, token: 'me', fair: true });
    hearOn(room, [2, 0], 'ch', 'holder1 me');
    const end = waiter.sleep(1_000, undefined);
    await clock.advance(0);
    expect(await end).toBe('woken');
    const next = waiter.sleep(10, undefined); // used once
    await clock.advance(10);
    expect(await next).toBe('timer');
    waiter.leave();
  });

  it('a plain release that found nobody asleep is kept, and a fair waiter going to sleep takes it too', async () => {
    const { clock, room } = roomOf(3);
    const waiter = await room.enter(['ch'], { shared: false, token: 'fair-one', fair: true });
    hearOn(room, [0, 1], 'ch', 'plain-holder'); // no one in line named: a plain holder let go
    const end = waiter.sleep(1_000, undefined);
    await clock.advance(0);
    expect(await end).toBe('woken');
    waiter.leave();
  });

  it('a fair waiter a release named before it entered the room finds its wake-up when it enters', async () => {
    const { clock, room } = roomOf(3);
    const other = await room.enter(['ch'], { shared: false, token: 'other', fair: true });
    hearOn(room, [0, 1], 'ch', 'holder/1 late-comer'); // named while between its attempt and enter()
    const late = await room.enter(['ch'], { shared: false, token: 'late-comer', fair: true });
    const end = late.sleep(1_000, undefined);
    await clock.advance(0);
    expect(await end).toBe('woken');
    other.leave();
    late.leave();
  });
  it('a release sent by this process wakes the longest waiting one at once, and its messages wake nobody more', async () => {
    const { clock, room } = roomOf(3);
    const first = await room.enter(['ch'], { shared: false, token: 'a', fair: false });
    const second = await room.enter(['ch'], { shared: false, token: 'b', fair: false });
    const ends: string[] = [];
    void first.sleep(1_000, undefined).then((end) => ends.push(`a:${end}`));
    void second.sleep(1_000, undefined).then((end) => ends.push(`b:${end}`));
    room.releasedHere(['ch', 'nobody-waits-here'], 'holder1/1');
    await clock.advance(0);
    expect(ends).toEqual(['a:woken']);
    hearOn(room, [0, 1, 2], 'ch', 'holder1/1'); // the same release, as the nodes announce it
    await clock.advance(0);
    expect(ends).toEqual(['a:woken']);
    hearOn(room, [0, 1], 'ch', 'holder2/1'); // another release still wakes the next one
    await clock.advance(0);
    expect(ends).toEqual(['a:woken', 'b:woken']);
    first.leave();
    second.leave();
  });

  it('if the waiter a release sent here woke finds the lock still held (the release was overtaken), the nodes\' messages wake it again', async () => {
    const { clock, room } = roomOf(3);
    const first = await room.enter(['ch'], { shared: false, token: 'a', fair: false });
    const second = await room.enter(['ch'], { shared: false, token: 'b', fair: false });
    const ends: string[] = [];
    void first.sleep(1_000, undefined).then((end) => ends.push(`a:${end}`));
    void second.sleep(1_000, undefined).then((end) => ends.push(`b:${end}`));
    room.releasedHere(['ch'], 'holder1/1');
    await clock.advance(0);
    expect(ends).toEqual(['a:woken']);
    void first.sleep(1_000, undefined).then((end) => ends.push(`a:${end}`)); // its attempt lost
    hearOn(room, [0, 1], 'ch', 'holder1/1');
    await clock.advance(0);
    expect(ends).toEqual(['a:woken', 'a:woken']);
    first.leave();
    second.leave();
    // Heard while the woken one is mid-attempt instead: its next sleep ends at once.
    const alone = await room.enter(['ch'], { shared: false, token: 'c', fair: false });
    const woken = alone.sleep(1_000, undefined);
    room.releasedHere(['ch'], 'holder2/1');
    expect(await woken).toBe('woken');
    hearOn(room, [2, 1], 'ch', 'holder2/1');
    expect(await alone.sleep(1_000, undefined)).toBe('woken');
    alone.leave();
  });

  it('a release sent by this process while nobody sleeps is kept for the next waiter to go to sleep', async () => {
    const { clock, room } = roomOf(3);
    const waiter = await room.enter(['ch'], { shared: false, token: 'a', fair: false });
    room.releasedHere(['ch'], 'holder1/1'); // the waiter is mid-attempt
    expect(await waiter.sleep(1_000, undefined)).toBe('woken');
    const later = waiter.sleep(1_000, undefined);
    await clock.advance(1_000);
    expect(await later).toBe('timer');
    waiter.leave();
  });
});
