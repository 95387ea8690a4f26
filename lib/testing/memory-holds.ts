import type { LockMode } from '../core/index.js';
import type { Clock } from '../core/index.js';

/** What a hold is: exclusive (a write lock, plain or fenced), a reader, or a semaphore's permit. */
export type HoldKind = { readonly shared: false } | { readonly shared: true; readonly kind: 'read' | number };

export function holdKindOf(mode: LockMode, limit: number | undefined): HoldKind {
  if (limit !== undefined) return { shared: true, kind: limit };
  return mode === 'read' ? { shared: true, kind: 'read' } : { shared: false };
}

export type TakeResult =
  | { readonly kind: 'taken'; readonly fence: number | undefined }
  /** `holderMs`: how long the hold that blocked us still runs (undefined when unknown or unbounded). */
  | { readonly kind: 'busy'; readonly holderMs: number | undefined }
  /** Held as another kind of shared lock: 'read' or a semaphore's limit. */
  | { readonly kind: 'mismatch'; readonly theirs: string };

/** One live hold, as `RedlockTestingControls.held()` reports it. */
export interface HoldInfo {
  readonly resource: string;
  /** 'write' = exclusive; 'read' = a reader; 'permit' = a semaphore's permit. */
  readonly kind: 'write' | 'read' | 'permit';
  readonly limit?: number;
  /** The largest fence granted on the resource so far (fenced locks only). */
  readonly fence?: number;
  /** ms until the hold ends by itself (Infinity for a test's hold without ttl). */
  readonly remaining: number;
  readonly token: string;
}

interface ResourceState {
  exclusive: { token: string; endsAt: number } | undefined;
  /** Readers or permits: token -> when its lease ends. */
  readonly shared: Map<string, number>;
  /** What the shared holders are: 'read' or the limit (meaningful while `shared` is not empty). */
  sharedKind: string | undefined;
  /** A writer that found shared holders: no new reader or permit joins until it is in. */
  writerWaiting: { token: string; endsAt: number } | undefined;
  /** The largest fence granted (permanent, as the fence key on a node). */
  fence: number;
  /** Fair waiters in line: token -> ticket; the smallest ticket (ties by token) is first (primitives/fair.ts). */
  readonly line: Map<string, number>;
  /** The last ticket handed out while the line was not empty. */
  lastTicket: number;
}

/** A waiting acquire, between two attempts, as the waiting room knows it (engine/waiting-room.ts). */
export interface ReleaseListener {
  readonly token: string;
  readonly fair: boolean;
  /** A reader: readers wake together, they can all get in. */
  readonly shared: boolean;
  /** When its call came: the longest waiting is woken first. */
  readonly arrival: number;
  heard(): void;
}

/**
 * The lock table of the in-process engine: what the take / extend / give scripts do on one Redis
 * node (primitives/mutex.ts, shared.ts), on one in-memory table, with leases ending on the
 * engine's clock. Every call is one synchronous step, as a script is atomic on its node.
 */
export class MemoryHolds {
  private readonly resources = new Map<string, ResourceState>();
  private readonly listeners = new Map<string, Set<ReleaseListener>>();

  constructor(private readonly clock: Clock) {}

  /**
   * `fair`: the take joins the line of every resource (or keeps its place) and only the waiter
   * first in line on all of them may go on to the lock checks, as the fair take script does.
   */
  take(token: string, resources: readonly string[], hold: HoldKind, ttl: number, fenced: boolean, fair = false): TakeResult {
    const now = this.clock.now();
    if (fair && !this.standFirst(token, resources, now)) return busy(this.exclusiveLeft(resources, now));
    for (const name of resources) {
      const state = this.stateOf(name, now);
      const blocked = hold.shared ? this.blocksShared(state, token, hold.kind, now) : this.blocksExclusive(state, token, ttl, now);
      if (blocked) {
        for (const other of resources) this.tidy(other, this.stateOf(other, now));
        return blocked;
      }
    }
    const fence = fenced ? Math.max(0, ...resources.map((name) => this.stateOf(name, now).fence)) + 1 : undefined;
    for (const name of resources) {
      const state = this.stateOf(name, now);
      if (hold.shared) {
        state.shared.set(token, now + ttl);
        state.sharedKind = String(hold.kind);
      } else {
        state.exclusive = { token, endsAt: now + ttl };
        if (state.writerWaiting?.token === token) state.writerWaiting = undefined;
      }
      state.line.delete(token);
      if (fence !== undefined) state.fence = fence;
    }
    return { kind: 'taken', fence };
  }

  /** Compare-then-extend: only a hold that is still ours and still running (never resurrected). */
  extend(token: string, resources: readonly string[], hold: HoldKind, ttl: number): boolean {
    const now = this.clock.now();
    if (!this.owns(token, resources, hold)) return false;
    const states = resources.map((name) => this.stateOf(name, now));
    for (const state of states) {
      if (hold.shared) state.shared.set(token, now + ttl);
      else state.exclusive!.endsAt = now + ttl;
    }
    return true;
  }

  /** Whether every resource still holds our token (a running hold). */
  owns(token: string, resources: readonly string[], hold: HoldKind): boolean {
    const now = this.clock.now();
    return resources.every((name) => {
      const state = this.stateOf(name, now);
      const ours = hold.shared ? state.shared.has(token) : state.exclusive?.token === token;
      this.tidy(name, state);
      return ours;
    });
  }

  /**
   * Compare-and-delete (withdrawing a writer-waiting mark and a place in line too); returns how
   * many resources held our token. Announces what it freed, as the give scripts do; `fair`: a fair
   * lock's give, whose announcement names the waiter first in line now.
   */
  give(token: string, resources: readonly string[], hold: HoldKind, fair = false): number {
    const now = this.clock.now();
    let held = 0;
    const freed: string[] = [];
    for (const name of resources) {
      const state = this.stateOf(name, now);
      let letGo = false;
      if (hold.shared ? state.shared.delete(token) : state.exclusive?.token === token) {
        if (!hold.shared) state.exclusive = undefined;
        held += 1;
        letGo = true;
      }
      if (this.withdraw(state, token)) letGo = true;
      if (letGo) freed.push(name);
      this.tidy(name, state);
    }
    this.announce(freed, fair);
    return held;
  }

  /** A waiter stopped waiting: as a writer it no longer holds new readers back; it leaves the fair line. */
  stopWaiting(token: string, resources: readonly string[], fair = false): void {
    const now = this.clock.now();
    const freed: string[] = [];
    for (const name of resources) {
      const state = this.stateOf(name, now);
      if (this.withdraw(state, token)) freed.push(name);
      this.tidy(name, state);
    }
    this.announce(freed, fair);
  }

  /** Held right now in any mode (a running exclusive hold, reader or permit). */
  isHeld(resource: string): boolean {
    if (!this.resources.has(resource)) return false;
    const state = this.stateOf(resource, this.clock.now());
    const held = state.exclusive !== undefined || state.shared.size > 0;
    this.tidy(resource, state);
    return held;
  }

  /**
   * Whether a take would succeed now, changing nothing: how the nodes that answer would vote in
   * a round that too few nodes answer (the engine's telemetry reports their votes).
   */
  wouldTake(token: string, resources: readonly string[], hold: HoldKind, fair: boolean): boolean {
    const now = this.clock.now();
    const free = resources.every((name) => {
      const state = this.stateOf(name, now);
      const first = !fair || state.line.size === 0 || headOf(state.line) === token;
      const blocked = hold.shared ? this.blocksShared(state, token, hold.kind, now) : this.blocksExclusive(state, token, 0, now, false);
      return first && blocked === undefined;
    });
    for (const name of resources) if (this.resources.has(name)) this.tidy(name, this.stateOf(name, now));
    return free;
  }

  /** Every live hold, by resource. */
  snapshot(): HoldInfo[] {
    const now = this.clock.now();
    return [...this.resources.keys()].flatMap((resource) => {
      const state = this.stateOf(resource, now);
      this.tidy(resource, state);
      const fence = state.fence > 0 ? { fence: state.fence } : {};
      const holds: HoldInfo[] = [];
      if (state.exclusive) holds.push({ resource, kind: 'write', ...fence, remaining: state.exclusive.endsAt - now, token: state.exclusive.token });
      for (const [token, endsAt] of state.shared) {
        holds.push(state.sharedKind === 'read'
          ? { resource, kind: 'read', remaining: endsAt - now, token }
          : { resource, kind: 'permit', limit: Number(state.sharedKind), remaining: endsAt - now, token });
      }
      return holds;
    });
  }

  /** Ends every hold on the resources now, as if their leases had run out (no announcement: an expiry announces nothing). */
  expire(resources: readonly string[]): void {
    for (const name of resources) {
      const state = this.resources.get(name);
      if (!state) continue;
      state.exclusive = undefined;
      state.shared.clear();
      state.writerWaiting = undefined;
      this.tidy(name, state);
    }
  }

  /**
   * Calls the listener whenever a hold on one of the resources is given back (a fair listener only
   * when it is first in line then, as a fair release names that waiter); returns the unsubscribe.
   */
  onRelease(resources: readonly string[], listener: ReleaseListener): () => void {
    for (const name of resources) {
      let set = this.listeners.get(name);
      if (!set) this.listeners.set(name, (set = new Set()));
      set.add(listener);
    }
    return () => {
      for (const name of resources) {
        const set = this.listeners.get(name);
        set?.delete(listener);
        if (set?.size === 0) this.listeners.delete(name);
      }
    };
  }

  /**
   * Who a release wakes, as the waiting room decides (engine/waiting-room.ts): no herd, the
   * longest-waiting writer and every reader; a fair release wakes the fair waiter it names (first
   * in line now) and, of the plain waiters, as a plain release would.
   */
  private announce(resources: readonly string[], fair: boolean): void {
    const heard = new Set<ReleaseListener>();
    for (const name of resources) {
      const waiting = [...(this.listeners.get(name) ?? [])];
      if (fair) {
        const line = this.resources.get(name)?.line;
        const first = line && line.size > 0 ? headOf(line) : undefined;
        for (const listener of waiting) if (listener.fair && listener.token === first) heard.add(listener);
      }
      const among = fair ? waiting.filter((l) => !l.fair) : waiting;
      for (const listener of among) if (listener.shared) heard.add(listener);
      const writers = among.filter((l) => !l.shared).sort((a, b) => a.arrival - b.arrival);
      if (writers[0]) heard.add(writers[0]);
    }
    for (const listener of heard) listener.heard();
  }

  /** Drops our writer-waiting mark and our place in line; whether there was either (letting go of them may let someone in). */
  private withdraw(state: ResourceState, token: string): boolean {
    let freed = false;
    if (state.writerWaiting?.token === token) {
      state.writerWaiting = undefined;
      freed = true;
    }
    if (state.line.delete(token)) freed = true;
    return freed;
  }

  /**
   * The fair step (primitives/fair.ts): a newcomer draws a ticket on each resource, the largest
   * is its place on all of them, and it may go on only when it is first in every line.
   */
  private standFirst(token: string, resources: readonly string[], now: number): boolean {
    const states = resources.map((name) => this.stateOf(name, now));
    const ticket = Math.max(...states.map((state) => state.line.get(token) ?? state.lastTicket + 1));
    for (const state of states) {
      state.lastTicket = Math.max(state.lastTicket, ticket);
      state.line.set(token, ticket);
    }
    return states.every((state) => headOf(state.line) === token);
  }

  /** How long the exclusive hold of any of the resources still runs (a fair waiter behind others is told it). */
  private exclusiveLeft(resources: readonly string[], now: number): number | undefined {
    const ends = resources.flatMap((name) => {
      const held = this.stateOf(name, now).exclusive;
      return held ? [held.endsAt - now] : [];
    });
    return ends.length > 0 ? Math.max(...ends) : undefined;
  }

  /** As the exclusive take script: another owner's lock, or shared holders (then we wait, marked). */
  private blocksExclusive(state: ResourceState, token: string, ttl: number, now: number, mark = true): TakeResult | undefined {
    if (state.exclusive && state.exclusive.token !== token) return busy(state.exclusive.endsAt - now);
    if (state.shared.size === 0) return undefined;
    if (mark && (!state.writerWaiting || state.writerWaiting.token === token)) state.writerWaiting = { token, endsAt: now + ttl };
    return busy(Math.max(...state.shared.values()) - now);
  }

  /** As the shared take script: a writer in or waiting, holders of another kind, or no permit left. */
  private blocksShared(state: ResourceState, token: string, kind: 'read' | number, now: number): TakeResult | undefined {
    if (state.exclusive) return busy(state.exclusive.endsAt - now);
    if (state.writerWaiting) return busy(undefined);
    if (state.shared.size === 0) return undefined;
    if (state.sharedKind !== String(kind)) return { kind: 'mismatch', theirs: state.sharedKind! };
    if (typeof kind === 'number' && state.shared.size >= kind && !state.shared.has(token)) {
      return busy(Math.min(...state.shared.values()) - now);
    }
    return undefined;
  }

  /** Forgets a resource nobody holds and that has no fence to keep: the table stays as small as what is held. */
  private tidy(name: string, state: ResourceState): void {
    if (!state.exclusive && state.shared.size === 0 && !state.writerWaiting && state.fence === 0 && state.line.size === 0) this.resources.delete(name);
  }

  /** The resource's state with every lease that has ended removed (as Redis expires keys). */
  private stateOf(name: string, now: number): ResourceState {
    let state = this.resources.get(name);
    if (!state) {
      state = { exclusive: undefined, shared: new Map(), sharedKind: undefined, writerWaiting: undefined, fence: 0, line: new Map(), lastTicket: 0 };
      this.resources.set(name, state);
    }
    if (state.exclusive && state.exclusive.endsAt <= now) state.exclusive = undefined;
    for (const [token, endsAt] of state.shared) if (endsAt <= now) state.shared.delete(token);
    if (state.writerWaiting && state.writerWaiting.endsAt <= now) state.writerWaiting = undefined;
    if (state.shared.size === 0) state.sharedKind = undefined;
    // Tickets only order the waiters in line now: an empty line starts again from 1.
    if (state.line.size === 0) state.lastTicket = 0;
    return state;
  }
}

/** Whole ms, as a node's PTTL tells them (rounded up: never a hint that comes before the end). */
function busy(holderMs: number | undefined): TakeResult {
  return { kind: 'busy', holderMs: holderMs !== undefined && Number.isFinite(holderMs) && holderMs > 0 ? Math.ceil(holderMs) : undefined };
}

/** The waiter first in a fair line: the smallest ticket, ties by token (as a sorted set orders them). */
function headOf(line: ReadonlyMap<string, number>): string | undefined {
  let first: [string, number] | undefined;
  for (const entry of line) {
    if (!first || entry[1] < first[1] || (entry[1] === first[1] && entry[0] < first[0])) first = entry;
  }
  return first?.[0];
}
