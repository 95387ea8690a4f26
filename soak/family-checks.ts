// The checks of the lock family's workloads (rw, semaphore, fenced). Like the mutex's overlap
// check they use only what the contenders recorded: validity windows on the machine-wide clock,
// and what the data store answered.
import type { FaultEvent } from './chaos.js';
import type { SectionRecord, Workload } from './protocol.js';

/** A holder's entitlement, as for the mutex: [enteredAt, min(leftAt, validUntil)). */
const endOf = (s: SectionRecord) => Math.min(s.leftAt, s.validUntil);

/** A moment at which the holders of one key broke the rule of their primitive. */
export interface Crowding {
  readonly key: string;
  /** When the last of them entered. */
  readonly at: number;
  readonly holders: readonly SectionRecord[];
}

export interface CrowdingResult {
  readonly violations: readonly Crowding[];
  /** Most validity windows of one key open at one instant. */
  readonly mostAtOnce: number;
  /** Most read windows of one key open at one instant (readers may share). */
  readonly mostReadersAtOnce: number;
}

/**
 * Sweeps each key's windows in order of entry and asks `allowed` about the set open at every entry
 * (the set only grows at an entry, so these are all the moments that matter).
 */
export function findCrowding(sections: readonly SectionRecord[], allowed: (open: readonly SectionRecord[]) => boolean): CrowdingResult {
  // A section that entered on a lease that had already ended has no window.
  const byKey = groupByKey(sections.filter((s) => endOf(s) > s.enteredAt));
  const violations: Crowding[] = [];
  let mostAtOnce = 0;
  let mostReadersAtOnce = 0;
  for (const [key, list] of byKey) {
    list.sort((a, b) => a.enteredAt - b.enteredAt);
    let open: SectionRecord[] = [];
    for (const s of list) {
      open = open.filter((o) => endOf(o) > s.enteredAt);
      open.push(s);
      mostAtOnce = Math.max(mostAtOnce, open.length);
      mostReadersAtOnce = Math.max(mostReadersAtOnce, open.filter((o) => o.mode === 'read').length);
      if (!allowed(open)) violations.push({ key, at: s.enteredAt, holders: [...open] });
    }
  }
  return { violations, mostAtOnce, mostReadersAtOnce };
}

/** Read/write: a writer's window is alone; readers share with readers only. */
export const readersShareWritersExclude = (open: readonly SectionRecord[]) => open.length === 1 || open.every((s) => s.mode === 'read');

/** Semaphore: at most `limit` windows at once. */
export const atMost = (limit: number) => (open: readonly SectionRecord[]) => open.length <= limit;

export interface RwResult extends CrowdingResult {
  readonly reads: number;
  readonly writes: number;
  /** Readers whose two reads (both before their deadline) differed: must be 0. */
  readonly readChanged: number;
  /** Readers that completed both reads. */
  readonly readsChecked: number;
}

export function checkRw(sections: readonly SectionRecord[]): RwResult {
  const readers = sections.filter((s) => s.mode === 'read');
  return {
    ...findCrowding(sections, readersShareWritersExclude),
    reads: readers.length,
    writes: sections.length - readers.length,
    readChanged: readers.filter((s) => s.readChanged === true).length,
    readsChecked: readers.filter((s) => s.outcome === 'read').length,
  };
}

export interface SemaphoreResult extends CrowdingResult {
  readonly limit: number;
  /** Most live holders the store counted at once (its own clock): must be <= limit. */
  readonly mostInStore: number;
  /** Holders the store counted while more than `limit` were live: must be 0. */
  readonly storeOverLimit: number;
  /** Keys on which `limit` holders were open at once (the limit was actually reached). */
  readonly keysAtLimit: number;
}

export function checkSemaphore(sections: readonly SectionRecord[], limit: number): SemaphoreResult {
  const crowding = findCrowding(sections, atMost(limit));
  const atLimit = new Set<string>();
  // Cheap second pass: a key reached the limit if some entry saw `limit` windows open.
  for (const [key, list] of groupByKey(sections)) if (findCrowding(list, atMost(limit - 1)).violations.length > 0) atLimit.add(key);
  const counted = sections.map((s) => s.storeHolders ?? 0);
  return {
    ...crowding,
    limit,
    mostInStore: counted.length === 0 ? 0 : Math.max(...counted),
    storeOverLimit: counted.filter((c) => c > limit).length,
    keysAtLimit: atLimit.size,
  };
}

/** Two writes the store accepted, the later one (in the store's order) with a fence not larger. */
export interface FenceInversion {
  readonly key: string;
  readonly earlier: SectionRecord;
  readonly later: SectionRecord;
}

export interface FencedResult {
  readonly accepted: number;
  readonly refusedByFence: number;
  /** Refusals where the store's largest fence was not above the writer's (the store erred): must be 0. */
  readonly refusedWrongly: number;
  /** Accepted fences that do not strictly increase along the store's order: must be 0. */
  readonly inversions: readonly FenceInversion[];
  /** Writes sent after the writer's lease had ended (its check came too late). */
  readonly late: { readonly total: number; readonly refused: number; readonly accepted: number };
  /** Fenced sections of a process frozen by SIGSTOP whose lease ended during the pause. */
  readonly frozen: { readonly pauses: number; readonly expired: number; readonly refused: number; readonly accepted: number };
}

/**
 * The store's order of accepted writes is the order of the counter values they wrote: each
 * writer read the previous value and wrote one more, so value v was written after value v - 1
 * (a duplicate value is a lost update, which the counter check reports). Along that order every
 * fence must be larger than the one before.
 */
export function checkFenced(sections: readonly SectionRecord[], pauses: readonly FaultEvent[]): FencedResult {
  const accepted = sections.filter((s) => s.outcome === 'written');
  const refused = sections.filter((s) => s.outcome === 'refused-by-fence');
  const inversions: FenceInversion[] = [];
  for (const [key, list] of groupByKey(accepted)) {
    list.sort((a, b) => (a.wroteValue ?? 0) - (b.wroteValue ?? 0));
    for (let i = 1; i < list.length; i++) {
      if ((list[i].fence ?? 0) <= (list[i - 1].fence ?? 0)) inversions.push({ key, earlier: list[i - 1], later: list[i] });
    }
  }
  const late = sections.filter((s) => s.checkedAt >= s.validUntil && s.outcome !== 'skipped');
  // As in the checker's pause effect: held across the pause, lease ended before the resume.
  const expiredIn = (p: FaultEvent) =>
    sections.filter((s) => s.proc === p.proc && s.enteredAt < p.endedAt && s.leftAt > p.startedAt && s.validUntil < p.endedAt && s.checkedAt >= p.startedAt);
  const perPause = pauses.map(expiredIn);
  const frozenExpired = perPause.flat();
  return {
    accepted: accepted.length,
    refusedByFence: refused.length,
    refusedWrongly: refused.filter((s) => (s.highestFence ?? 0) <= (s.fence ?? 0)).length,
    inversions,
    late: { total: late.length, refused: late.filter((s) => s.outcome === 'refused-by-fence').length, accepted: late.filter((s) => s.outcome === 'written').length },
    frozen: {
      pauses: perPause.filter((list) => list.length > 0).length,
      expired: frozenExpired.length,
      refused: frozenExpired.filter((s) => s.outcome === 'refused-by-fence').length,
      accepted: frozenExpired.filter((s) => s.outcome === 'written').length,
    },
  };
}

function groupByKey(sections: readonly SectionRecord[]): Map<string, SectionRecord[]> {
  const byKey = new Map<string, SectionRecord[]>();
  for (const s of sections) {
    const list = byKey.get(s.key);
    if (list) list.push(s);
    else byKey.set(s.key, [s]);
  }
  return byKey;
}

/** Sections of one workload. */
export const ofWorkload = (sections: readonly SectionRecord[], workload: Workload) => sections.filter((s) => s.workload === workload);
