import type { NodeSubscriber } from '../nodes/node-subscriber.js';
import type { Clock, Timer } from '../time/clock.js';
import { parseWakeUp } from '../primitives/wake-up.js';
import { watchAbort } from '../time/shared-abort.js';
import { quorumOf } from './verdict.js';

/** How a wait between two attempts ended. */
export type WaitEnd = 'woken' | 'timer' | 'aborted';

/** One waiting acquire, between its attempts. */
export interface Waiter {
  /** true while a quorum of nodes would tell this waiter of a release (so its timer is only a fallback). */
  readonly hearsReleases: boolean;
  /**
   * Its entering subscribed the channels (nobody of this process waited on them before): a
   * release between the attempts of the waiters that came meanwhile and the subscription was
   * announced to nobody, and this one waiter looks again for all of them.
   */
  readonly subscribedFirst: boolean;
  /** Sleep up to `ms` (keeping the process alive), or less when a release wakes it or `signal` aborts. */
  sleep(ms: number, signal: AbortSignal | undefined): Promise<WaitEnd>;
  /** Stop waiting: the last waiter on a channel unsubscribes it. */
  leave(): void;
}

/**
 * The one waiting path of every primitive. With wake-ups, a release publishes on each node it
 * let go of (inside its give script, the owner token as message), and a waiter sleeps until a
 * release has reached a quorum of nodes (then the lock can be taken) or its fallback timer ends
 * (an expiry publishes nothing; a lost message costs latency, never correctness).
 *
 * No thundering herd: one release wakes one sleeping waiter of this process per channel, the
 * longest waiting (readers, who can all get in together, wake together). A release that finds
 * nobody asleep is kept for the next waiter to go to sleep, so a wake-up that arrives while the
 * waiters are mid-attempt is not lost. A fair lock's release names the waiter first in line: only
 * that one wakes, in whichever process it waits (the others would only find they are not first),
 * and if it is mid-attempt its wake-up waits for it.
 */
export class WaitingRoom {
  private readonly channels = new Map<string, ChannelState>();

  constructor(
    private readonly clock: Clock,
    private readonly nodeCount: number,
    /** One per node; none = wake-ups off (polling only). */
    private readonly subscribers: readonly NodeSubscriber[],
  ) {}

  /** Subscribes the waiter's channels on every node (shared, counted) and resolves when that is done or bounded out. */
  async enter(channels: readonly string[], who: { readonly shared: boolean; readonly token: string; readonly fair: boolean }): Promise<Waiter> {
    // The first waiter on a channel is the one whose subscription may have come too late for a release.
    const first = channels.some((channel) => !this.channels.has(channel));
    const waiter = new SleepingWaiter(this, channels, who, this.clock, first);
    for (const channel of channels) {
      const state = this.stateOf(channel);
      state.waiters.push(waiter);
      // Named first in line by a release heard before it came in (wakeNamed).
      if (who.fair && state.namedAbsent.delete(who.token)) waiter.wake();
    }
    await Promise.all(channels.flatMap((channel) => this.subscribers.map((s) => s.add(channel))));
    return waiter;
  }

  /** A node's subscriber heard a release on `channel` (the give script's message: wake-up.ts). */
  heard(node: number, channel: string, message: string): void {
    const state = this.channels.get(channel);
    if (!state) return;
    const { releaser, nextInLine } = parseWakeUp(message);
    const release: Release = state.releases.get(releaser) ?? { nodes: new Set<number>(), nextInLine: new Set<string>(), wokeHere: undefined };
    if (release.nodes.size >= quorumOf(this.nodeCount)) return; // this release already woke someone
    release.nodes.add(node);
    if (nextInLine) release.nextInLine.add(nextInLine);
    state.releases.set(releaser, release);
    forgetOldest(state.releases);
    if (release.nodes.size < quorumOf(this.nodeCount)) return;
    if (release.wokeHere) {
      for (const waiter of release.wokeHere) if (state.waiters.includes(waiter)) waiter.remind();
    } else if (nextInLine === undefined) {
      this.wake(state);
    } else {
      this.wakeNamed(state, release.nextInLine);
    }
  }

  /**
   * A release by this process is on its way to the nodes, over the connections its waiters'
   * next takes use too: on each node a take sent now runs after the release, so a waiter here
   * may go at once instead of waiting for the nodes' messages (a round trip later). Those
   * messages then wake nobody else; they only remind the waiters woken here, in case the release
   * was overtaken after all (sent again after NOSCRIPT, behind the boot check) and their attempt
   * found it still held. Not for a fair release, whose nodes name who goes next.
   */
  releasedHere(channels: readonly string[], releaser: string): void {
    for (const channel of channels) {
      const state = this.channels.get(channel);
      if (!state || state.releases.has(releaser)) continue;
      state.releases.set(releaser, { nodes: new Set(), nextInLine: new Set(), wokeHere: this.wake(state) });
      forgetOldest(state.releases);
    }
  }

  /** @internal */
  hearsReleases(channels: readonly string[]): boolean {
    if (this.subscribers.length === 0) return false;
    const quorum = quorumOf(this.nodeCount);
    return channels.every((channel) => this.subscribers.filter((s) => s.listens(channel)).length >= quorum);
  }

  /** @internal A waiter going to sleep takes a release nobody was asleep for. */
  takeKeptWake(channels: readonly string[]): boolean {
    for (const channel of channels) {
      const state = this.channels.get(channel);
      if (state?.keptWake) {
        state.keptWake = false;
        return true;
      }
    }
    return false;
  }

  /** @internal */
  left(waiter: SleepingWaiter): void {
    for (const channel of waiter.channels) {
      const state = this.channels.get(channel);
      const at = state ? state.waiters.indexOf(waiter) : -1;
      if (state && at >= 0) {
        state.waiters.splice(at, 1);
        if (state.waiters.length === 0) this.channels.delete(channel);
      }
      for (const subscriber of this.subscribers) subscriber.remove(channel);
    }
  }

  /** Wakes the waiters a release lets in (kept for the next one to sleep if none sleeps); returns them. */
  private wake(state: ChannelState, among: readonly SleepingWaiter[] = state.waiters): SleepingWaiter[] {
    const asleep = among.filter((w) => w.asleep);
    const first = asleep.find((w) => !w.shared);
    const woken = [...asleep.filter((w) => w.shared), ...(first ? [first] : [])];
    // Readers behind a waiting writer are woken with it; a writer first in line goes before later readers.
    if (woken.length === 0) {
      state.keptWake = true;
      return woken;
    }
    for (const waiter of woken) waiter.wake();
    return woken;
  }

  /**
   * A fair release: of the fair waiters, those it names first in line (if they wait here); a
   * plain waiter as usual. A name not among the waiters is remembered a while: its waiter may be
   * between its first attempt and entering the room, and finds its wake-up when it enters.
   */
  private wakeNamed(state: ChannelState, tokens: ReadonlySet<string>): void {
    for (const token of tokens) {
      const waiter = state.waiters.find((w) => w.fair && w.token === token);
      if (waiter) waiter.wake();
      else rememberBounded(state.namedAbsent, token);
    }
    const plain = state.waiters.filter((w) => !w.fair);
    if (plain.length > 0) this.wake(state, plain);
  }

  private stateOf(channel: string): ChannelState {
    let state = this.channels.get(channel);
    if (!state) {
      state = { waiters: [], releases: new Map(), keptWake: false, namedAbsent: new Set() };
      this.channels.set(channel, state);
    }
    return state;
  }
}

/** A recent release: the nodes it was heard from, whom they named first in line, and (one sent by this process) the waiters it woke here. */
interface Release {
  readonly nodes: Set<number>;
  readonly nextInLine: Set<string>;
  readonly wokeHere: readonly SleepingWaiter[] | undefined;
}

interface ChannelState {
  /** In arrival order. */
  readonly waiters: SleepingWaiter[];
  /** Recent releases, by the releaser's name. */
  readonly releases: Map<string, Release>;
  keptWake: boolean;
  /** Fair waiters a release named first in line before they entered the room (recent ones). */
  readonly namedAbsent: Set<string>;
}

/** Releases remembered per channel: enough to count each one's nodes, bounded in memory. */
const REMEMBERED_RELEASES = 64;

function forgetOldest(releases: Map<string, unknown>): void {
  while (releases.size > REMEMBERED_RELEASES) releases.delete(releases.keys().next().value as string);
}

function rememberBounded(names: Set<string>, name: string): void {
  names.add(name);
  while (names.size > REMEMBERED_RELEASES) names.delete(names.values().next().value as string);
}

class SleepingWaiter implements Waiter {
  private waking: (() => void) | undefined;
  /** Named first in line (or reminded) while it was mid-attempt: its next sleep ends at once. */
  private wokenAwake = false;
  readonly shared: boolean;
  readonly token: string;
  readonly fair: boolean;

  constructor(
    private readonly room: WaitingRoom,
    readonly channels: readonly string[],
    who: { readonly shared: boolean; readonly token: string; readonly fair: boolean },
    private readonly clock: Clock,
    readonly subscribedFirst: boolean,
  ) {
    this.shared = who.shared;
    this.token = who.token;
    this.fair = who.fair;
  }

  get asleep(): boolean {
    return this.waking !== undefined;
  }

  get hearsReleases(): boolean {
    return this.room.hearsReleases(this.channels);
  }

  sleep(ms: number, signal: AbortSignal | undefined): Promise<WaitEnd> {
    if (signal?.aborted) return Promise.resolve('aborted');
    if (this.wokenAwake) {
      this.wokenAwake = false;
      return Promise.resolve('woken');
    }
    // A release nobody was asleep for: a plain holder's (a fair one names its next waiter) frees
    // the resource for whoever comes, a fair waiter too (found by the testing fake's suite).
    if (this.room.takeKeptWake(this.channels)) return Promise.resolve('woken');
    return new Promise((resolve) => {
      const end = (how: WaitEnd) => {
        if (!this.waking) return;
        this.waking = undefined;
        timer.cancel();
        unwatch?.();
        resolve(how);
      };
      this.waking = () => end('woken');
      // A waiting acquire keeps the process alive: a script whose only work is waiting for a
      // lock must not exit with its promise pending.
      const timer: Timer = this.clock.setTimer(() => end('timer'), ms, { keepAlive: true });
      const unwatch = signal ? watchAbort(signal, () => end('aborted')) : undefined;
    });
  }

  wake(): void {
    if (this.waking) this.waking();
    else if (this.fair) this.wokenAwake = true;
  }

  /** Woken by a release that may have been overtaken: wake again, or, mid-attempt, do not sleep after it. */
  remind(): void {
    if (this.waking) this.waking();
    else this.wokenAwake = true;
  }

  leave(): void {
    this.room.left(this);
  }
}
