import type { Clock, Timer } from '../time/clock.js';

/** What auto-extension needs of a lock (not the handle itself: the handle owns its extension). */
export interface Extendable {
  readonly remaining: number;
  extend(): Promise<void>;
}

/**
 * Rule 12: keeps one lock alive while its holder works. The next extension is planned from the
 * validity actually left (not from start + ttl): every ttl/3, or at half the remaining time if
 * that is sooner. It stops for good on release or on the first failed extension (which has
 * already aborted the lock's signal).
 */
export class AutoExtension {
  private timer: Timer | undefined;
  private stopped = false;

  constructor(
    private readonly lock: Extendable,
    private readonly ttl: number,
    private readonly clock: Clock,
  ) {}

  start(): void {
    this.planNext();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private planNext(): void {
    if (this.stopped) return;
    const delay = Math.min(this.ttl / 3, this.lock.remaining / 2);
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      if (this.stopped) return;
      this.lock.extend().then(
        () => this.planNext(),
        () => this.stop(),
      );
    }, delay);
  }
}
