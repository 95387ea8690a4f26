import type { Clock, Timer } from '../../lib/core/time/clock.js';

interface Scheduled {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

/**
 * A clock that only moves when a test says so. advance() fires due timers in time order and
 * lets promise chains settle between them, so async engine code can be stepped deterministically.
 */
export class FakeClock implements Clock {
  private time = 1_000;
  private seq = 0;
  private readonly scheduled: Scheduled[] = [];

  now(): number {
    return this.time;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const entry: Scheduled = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.scheduled.push(entry);
    return {
      cancel: () => {
        entry.live = false;
      },
    };
  }

  /** Timers set and neither fired nor cancelled. */
  get pendingTimers(): number {
    return this.scheduled.filter((s) => s.live).length;
  }

  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await settle();
    for (;;) {
      const due = this.scheduled
        .filter((s) => s.live && s.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.time = Math.max(this.time, due.at);
      due.live = false;
      due.fn();
      await settle();
    }
    this.time = target;
    await settle();
  }
}

/** Let every pending promise callback run (setImmediate runs after the microtask queue drains). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
