/**
 * Measuring instruments for the load run (soak/load.ts) and the leak guard
 * (test/core/leaks.test.ts): heap after forced GC, live timers, listener counts on the
 * ioredis clients, event-loop delay. They only observe; nothing here changes the engine.
 */
import { createHook } from 'node:async_hooks';
import { createHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { RecordableHistogram } from 'node:perf_hooks';
import type { Clock, Redlock, Timer } from '../lib/core/index.js';
import { monotonicClock } from '../lib/core/index.js';

/** Resolves after the pending I/O and immediates have had a turn. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * heapUsed (bytes) after several forced full GCs, with an event-loop turn between them so
 * weak callbacks and finalizers can run. Needs `node --expose-gc`.
 */
export async function settledHeap(rounds = 4): Promise<number> {
  const gc = globalThis.gc;
  if (typeof gc !== 'function') throw new Error('run node with --expose-gc: the heap figures need global.gc()');
  for (let i = 0; i < rounds; i++) {
    gc();
    await turn();
  }
  return process.memoryUsage().heapUsed;
}

/** Counts of process.getActiveResourcesInfo() by type (ref'd handles and timers only). */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/**
 * Every Timeout and Immediate created while enabled that has neither fired nor been cleared:
 * unlike getActiveResourcesInfo() it also sees unref'd timers (the engine unrefs all of its own).
 * An async_hooks `init` hook notes each one (weakly); liveness is read from the timer object
 * itself (`_destroyed`, set by Node when it fires or is cleared). There is deliberately no
 * `destroy` hook: with one, Node also tracks every promise until it is collected, which stalls
 * the loop for hundreds of ms under load. The `init` hook alone still costs some throughput.
 */
export class TimerTracker {
  private readonly seen = new Map<number, { type: string; ref: WeakRef<object>; origin?: Error }>();
  private readonly hook;
  private sinceSweep = 0;

  constructor(private readonly withStacks = false) {
    this.hook = createHook({
      init: (asyncId, type, _trigger, resource) => {
        if (type !== 'Timeout' && type !== 'Immediate') return;
        this.seen.set(asyncId, { type, ref: new WeakRef(resource), origin: this.withStacks ? creationTrace() : undefined });
        if (++this.sinceSweep >= 10_000) this.sweep();
      },
    });
  }

  enable(): this {
    this.hook.enable();
    return this;
  }

  disable(): void {
    this.hook.disable();
  }

  /**
   * Live Timeout / Immediate resources created since enable(). With stacks recorded, `except`
   * leaves out those whose creator (the first frame outside Node's own code) matches it, e.g.
   * a test runner's own timers.
   */
  count(type: 'Timeout' | 'Immediate' = 'Timeout', except?: RegExp): number {
    const live = this.live(type);
    return except ? live.filter((e) => !except.test(creatorFrame(e.origin))).length : live.length;
  }

  /**
   * Like count(), but only the ref'd ones (those that keep the process alive). Unlike
   * getActiveResourcesInfo() it can leave out a test runner's own timers.
   */
  countRefd(type: 'Timeout' | 'Immediate' = 'Timeout', except?: RegExp): number {
    const refd = this.live(type).filter((e) => (e.ref.deref() as { hasRef?: () => boolean } | undefined)?.hasRef?.() === true);
    return except ? refd.filter((e) => !except.test(creatorFrame(e.origin))).length : refd.length;
  }

  /** Creation stacks of the live ones (only with `withStacks`), to find who left them. */
  stacks(type: 'Timeout' | 'Immediate' = 'Timeout'): string[] {
    return this.live(type).map((e) => e.origin?.stack ?? '(no stack recorded)');
  }

  private live(type: string): { ref: WeakRef<object>; origin?: Error }[] {
    this.sweep();
    return [...this.seen.values()].filter((e) => e.type === type);
  }

  /** Forget timers that fired, were cleared or were collected. */
  private sweep(): void {
    this.sinceSweep = 0;
    for (const [id, entry] of this.seen) {
      const timer = entry.ref.deref() as { _destroyed?: boolean } | undefined;
      if (timer === undefined || timer._destroyed === true) this.seen.delete(id);
    }
  }
}

/** This file: its frames (the hook, creationTrace, under whatever names V8 gives them) are never the creator. */
const HERE = fileURLToPath(import.meta.url);

/** The first frame of a creation trace that is neither Node's own code nor this hook. */
function creatorFrame(trace: Error | undefined): string {
  const frames = (trace?.stack ?? '').split('\n').slice(1);
  return frames.find((f) => !f.includes('(node:') && !f.includes(' node:') && !f.includes(HERE)) ?? '';
}

/** The frames of the code creating a timer, past the async_hooks ones; text built only if read. */
function creationTrace(): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  const trace = new Error('Timer created');
  Error.stackTraceLimit = limit;
  return trace;
}

// The counting clock lives with the test harness; load.ts and the leak test use it from here too.
export { countingClock } from '../test/support/counting-clock.js';
export type { CountingClock } from '../test/support/counting-clock.js';

/**
 * EXPERIMENT, not a measuring instrument: a clock whose timers run their callback one
 * setImmediate after they fire. After a long synchronous stretch the timers phase comes before
 * the poll phase, so a per-node timeout would fire before the replies already waiting in the
 * sockets are read; deferred to the check phase, it fires after them. Used by
 * `soak/load.ts --deferred-timeouts` to show what that change in the engine would do.
 */
export function deferredClock(base: Clock = monotonicClock): Clock {
  return {
    now: () => base.now(),
    setTimer(fn: () => void, ms: number): Timer {
      let immediate: NodeJS.Immediate | undefined;
      const timer = base.setTimer(() => {
        immediate = setImmediate(fn);
        immediate.unref();
      }, ms);
      return {
        cancel: () => {
          timer.cancel();
          if (immediate) clearImmediate(immediate);
        },
      };
    },
  };
}

/** Listener count per event name, per client. */
export type ListenerSnapshot = Record<string, number>[];

export function listenerSnapshot(clients: readonly { eventNames(): (string | symbol)[]; listenerCount(name: string | symbol): number }[]): ListenerSnapshot {
  return clients.map((client) => {
    const counts: Record<string, number> = {};
    for (const name of client.eventNames()) counts[String(name)] = client.listenerCount(name);
    return counts;
  });
}

/** Total listeners over all clients. */
export function listenerTotal(snapshot: ListenerSnapshot): number {
  return snapshot.reduce((sum, counts) => sum + Object.values(counts).reduce((a, b) => a + b, 0), 0);
}

/** Human-readable differences `after − before` ("#1 error +2"), empty when equal. */
export function listenerDiff(before: ListenerSnapshot, after: ListenerSnapshot): string[] {
  const diffs: string[] = [];
  for (let i = 0; i < Math.max(before.length, after.length); i++) {
    const b = before[i] ?? {};
    const a = after[i] ?? {};
    for (const name of new Set([...Object.keys(b), ...Object.keys(a)])) {
      const delta = (a[name] ?? 0) - (b[name] ?? 0);
      if (delta !== 0) diffs.push(`#${i} ${name} ${delta > 0 ? '+' : ''}${delta}`);
    }
  }
  return diffs;
}

/**
 * The instance's private set of held locks, read for the report only (white-box: there is no
 * public accessor). undefined if the field is not there (renamed), so callers fall back to counts.
 */
export function heldLockCount(redlock: Redlock): number | undefined {
  const held = (redlock as unknown as { held?: unknown }).held;
  return held instanceof Set ? held.size : undefined;
}

export interface DelayFigures {
  /** How late the loop ran a 10 ms timer, ms: p50 / p99 / max. */
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

/**
 * Event-loop delay of one phase: a timer every `resolutionMs` records how late it fired.
 * (perf_hooks.monitorEventLoopDelay() cannot leave a section out: after disable()/enable()
 * its first sample spans the whole pause. This probe can, so the harness's own forced GCs are
 * not counted.) Its timer is unref'd and stopped by pause()/stop(), before any snapshot.
 */
export class LoopDelayProbe {
  private readonly histogram: RecordableHistogram = createHistogram();
  private timer: NodeJS.Timeout | undefined;
  private last = 0;

  constructor(private readonly resolutionMs = 10) {}

  start(): this {
    this.histogram.reset();
    this.resume();
    return this;
  }

  pause(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  resume(): void {
    if (this.timer) return;
    this.last = performance.now();
    this.schedule();
  }

  stop(): DelayFigures {
    this.pause();
    const h = this.histogram;
    const ms = (us: number) => Math.max(0, us - 1) / 1_000;
    if (h.count === 0) return { p50: 0, p99: 0, max: 0, samples: 0 };
    return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), samples: h.count };
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      const now = performance.now();
      // Recorded in µs, +1 because a histogram only takes values >= 1.
      this.histogram.record(Math.max(0, Math.round((now - this.last - this.resolutionMs) * 1_000)) + 1);
      this.last = now;
      this.schedule();
    }, this.resolutionMs);
    this.timer.unref();
  }
}

/** Percentile (0..100) of the first `n` values of `values`, nearest-rank; sorts a copy. */
export function percentile(values: Float64Array, n: number, p: number): number {
  if (n === 0) return Number.NaN;
  const sorted = values.slice(0, n).sort();
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return sorted[rank];
}

export const MB = 1024 * 1024;
