/**
 * The independent checker for mutual exclusion: it knows nothing of the engine, only of the
 * critical sections the contenders recorded on one machine-wide monotonic clock
 * (process.hrtime, shared by every process on the machine).
 */
export interface CriticalSection {
  owner: string;
  key: string;
  /** ms on process.hrtime when the holder entered (after acquire returned). */
  enteredAt: number;
  /** ms on process.hrtime when it left (before release was sent). */
  leftAt: number;
  /** The lock's validUntil, translated to process.hrtime ms. */
  validUntil: number;
}

export interface Overlap<S extends CriticalSection = CriticalSection> {
  key: string;
  first: S;
  second: S;
  /** How long both were inside, ms. */
  byMs: number;
}

/**
 * A holder is entitled to the interval [enteredAt, min(leftAt, validUntil)]; no two such
 * intervals of one key may intersect.
 */
export function findOverlaps<S extends CriticalSection>(sections: readonly S[]): Overlap<S>[] {
  // Grouped in place (linear): the soak feeds hundreds of thousands of sections.
  const byKey = new Map<string, S[]>();
  for (const s of sections) {
    const list = byKey.get(s.key);
    if (list) list.push(s);
    else byKey.set(s.key, [s]);
  }
  const overlaps: Overlap<S>[] = [];
  for (const [key, list] of byKey) {
    const sorted = list.sort((a, b) => a.enteredAt - b.enteredAt);
    let latest: S | undefined;
    for (const s of sorted) {
      if (latest && s.enteredAt < end(latest)) {
        overlaps.push({ key, first: latest, second: s, byMs: Math.min(end(latest), end(s)) - s.enteredAt });
      }
      if (!latest || end(s) > end(latest)) latest = s;
    }
  }
  return overlaps;
}

function end(s: CriticalSection): number {
  return Math.min(s.leftAt, s.validUntil);
}

/** Now, in ms on the machine-wide monotonic clock. */
export function machineNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Translate a deadline on this process's performance.now() clock to machine-wide ms. */
export function toMachineTime(performanceMs: number): number {
  return machineNow() - (performance.now() - performanceMs);
}
