// The soak's judge. It knows nothing of the engine: only what the contenders recorded on the
// machine-wide monotonic clock, the counters in the data store, and the chaos log.
import { findOverlaps } from '../test/support/overlap-checker.js';
import type { Overlap } from '../test/support/overlap-checker.js';
import type { FaultEvent, FaultKind } from './chaos.js';
import type { Collected, ContenderExit } from './contenders.js';
import { checkFenced, checkRw, checkSemaphore, ofWorkload } from './family-checks.js';
import type { FencedResult, RwResult, SemaphoreResult } from './family-checks.js';
import type { AcquireRecord, LossRecord, SectionRecord, Workload } from './protocol.js';
import { distribution } from './stats.js';
import type { Distribution } from './stats.js';

export interface CheckInput {
  readonly collected: Collected;
  readonly exits: readonly ContenderExit[];
  readonly faults: readonly FaultEvent[];
  /** Kinds the chaos plan had to inject at least once. */
  readonly plannedKinds: readonly FaultKind[];
  readonly chaosFailures: readonly string[];
  /** Final value of each key's counter in the data store (by lock key, without `counter:`). */
  readonly counters: ReadonlyMap<string, number>;
  readonly ttl: number;
  readonly wait: number;
  /** An acquire may take at most wait + this long. */
  readonly hangBoundMs: number;
  /** How long after a fault was lifted its effects still count as "during faults". */
  readonly settleMs: number;
  /** The workloads the contenders ran, and the semaphore's limit. */
  readonly workloads: readonly Workload[];
  readonly limit: number;
  /** The fair workload: each hot key's line, tried once after the contenders stopped. */
  readonly fairDrain?: readonly FairDrain[];
}

/** A fair acquire of one hot key after the run: a line left stuck by dead or frozen waiters would refuse it. */
export interface FairDrain {
  readonly key: string;
  readonly granted: boolean;
  readonly ms: number;
  readonly error?: string;
}

/** The checks of the lock family, per workload that ran (mutex: the overlaps and counters above). */
export interface FamilyResult {
  readonly sectionsBy: ReadonlyMap<Workload, number>;
  /** Acquire calls by workload (rw: `rw read` / `rw write`): granted, busy, unavailable, other. */
  readonly acquiresBy: ReadonlyMap<string, { ok: number; busy: number; unavailable: number; other: number }>;
  readonly rw?: RwResult;
  readonly semaphore?: SemaphoreResult;
  readonly fenced?: FencedResult;
  readonly fair?: { readonly drain: readonly FairDrain[]; readonly waitersKilled: number; readonly longestGrantedWaitMs: number };
}

export interface LatencyRow {
  readonly label: string;
  readonly quiet: Distribution;
  readonly faults: Distribution;
}

export interface ContenderPauseEffect {
  readonly fault: FaultEvent;
  /** Critical sections of the frozen process that were open during the pause. */
  readonly held: number;
  /** ... whose lease ended before the process was resumed. */
  readonly expired: number;
  /** ... where the holder found `signal.aborted` when it looked after resuming. */
  readonly signalAborted: number;
  /** ... where only `remaining` (0) stopped the write: the signal had not fired yet. */
  readonly remainingOnly: number;
  /** ... that wrote anyway (fenced sections aside, whose writes the fence judges): must be 0. */
  readonly written: number;
  readonly refusedByStore: number;
  /** ... fenced sections whose late write the store refused by fence, or accepted. */
  readonly refusedByFence: number;
  readonly acceptedByFence: number;
}

export interface MajorityDownEffect {
  readonly fault: FaultEvent;
  /** Acquires that started once the majority was down and ended before the first restart. */
  readonly attempts: number;
  readonly unavailable: number;
  /** Grants while a majority was down: must be 0. */
  readonly granted: number;
  /** Latency of the acquires that failed during the outage. */
  readonly failLatency: Distribution;
  /** From the nodes being back to the first granted lock that was asked for after that. */
  readonly recoveryMs: number | undefined;
}

export interface FaultEffect {
  readonly fault: FaultEvent;
  readonly ok: number;
  readonly busy: number;
  readonly unavailable: number;
  readonly other: number;
}

export interface CheckResult {
  readonly sections: { total: number; written: number; skipped: number; refused: number; refusedByFence: number; read: number; counted: number; long: number };
  /** Exclusive locks (mutex, fenced) whose validity windows overlapped. */
  readonly overlaps: readonly Overlap<SectionRecord>[];
  readonly family: FamilyResult;
  /** Sections that wrote although their lock had expired when the holder checked (fenced aside): must be 0. */
  readonly staleWrites: readonly SectionRecord[];
  readonly lostUpdates: { keys: number; lost: number; extra: number; mismatches: { key: string; counter: number; written: number }[] };
  readonly hangs: readonly { record: AcquireRecord; overByMs: number }[];
  readonly stuck: readonly { proc: number; key: string; startedAt: number }[];
  /** Largest `acquire time − wait` seen outside frozen processes, ms. */
  readonly maxOvershootMs: number;
  readonly problems: readonly string[];
  readonly errorsByCode: ReadonlyMap<string, number>;
  readonly latency: readonly LatencyRow[];
  /** Acquires of a frozen process (left out of the latency and hang figures). */
  readonly frozenAcquires: number;
  readonly unavailableLatency: Distribution;
  readonly losses: {
    total: number;
    inTime: number;
    lateFrozen: number;
    /** Signalled late because the process's event loop did not run across the end of validity (no timer can fire then). */
    lateBlocked: readonly LossRecord[];
    lateOther: readonly LossRecord[];
    reasons: ReadonlyMap<string, number>;
  };
  /** Locks whose lease ended before the holder's check, in a process that was never frozen. */
  readonly expiredUnfrozen: { total: number; signalAborted: number };
  readonly contenderPauses: readonly ContenderPauseEffect[];
  readonly majorityDowns: readonly MajorityDownEffect[];
  readonly faultEffects: readonly FaultEffect[];
  readonly missingFaults: readonly FaultKind[];
}

const intersects = (a0: number, a1: number, b0: number, b1: number) => a0 < b1 && b0 < a1;

export function check(input: CheckInput): CheckResult {
  const { collected, faults, ttl, wait, hangBoundMs, settleMs } = input;
  const { sections, acquires, losses } = collected;
  const pauses = faults.filter((f) => f.kind === 'pause-contender');
  const frozen = (proc: number, from: number, to: number) => pauses.some((p) => p.proc === proc && intersects(from, to, p.startedAt, p.endedAt));
  const duringFault = (from: number, to: number) => faults.some((f) => intersects(from, to, f.startedAt, f.endedAt + settleMs));

  // Mutual exclusion: validity windows of one key never overlap (readers and permits are judged
  // by their own rules below). Fenced holders write without checking their lease: the fence judges.
  const overlaps = findOverlaps(sections.filter((s) => s.workload === 'mutex' || s.workload === 'fenced' || s.workload === 'fair'));
  const staleWrites = sections.filter((s) => s.outcome === 'written' && s.workload !== 'fenced' && s.checkedAt >= s.validUntil);
  const sectionsBy = new Map<Workload, number>();
  for (const s of sections) sectionsBy.set(s.workload, (sectionsBy.get(s.workload) ?? 0) + 1);
  const acquiresBy = new Map<string, { ok: number; busy: number; unavailable: number; other: number }>();
  for (const a of acquires) {
    const label = a.workload === 'rw' ? `rw ${a.mode}` : (a.workload ?? 'mutex');
    const row = acquiresBy.get(label) ?? { ok: 0, busy: 0, unavailable: 0, other: 0 };
    if (a.result === 'ok') row.ok += 1;
    else if (a.result === 'LOCK_BUSY') row.busy += 1;
    else if (a.result === 'QUORUM_UNAVAILABLE') row.unavailable += 1;
    else row.other += 1;
    acquiresBy.set(label, row);
  }
  const family: FamilyResult = {
    sectionsBy,
    acquiresBy,
    ...(input.workloads.includes('rw') ? { rw: checkRw(ofWorkload(sections, 'rw')) } : {}),
    ...(input.workloads.includes('semaphore') ? { semaphore: checkSemaphore(ofWorkload(sections, 'semaphore'), input.limit) } : {}),
    ...(input.workloads.includes('fenced') ? { fenced: checkFenced(ofWorkload(sections, 'fenced'), pauses) } : {}),
    ...(input.workloads.includes('fair')
      ? {
          fair: {
            drain: input.fairDrain ?? [],
            waitersKilled: faults.filter((f) => f.kind === 'kill-waiter').length,
            // A frozen process's acquires wait through the freeze: left out, as from the hang check.
            longestGrantedWaitMs: Math.max(0, ...acquires.filter((a) => a.workload === 'fair' && a.result === 'ok' && !frozen(a.proc, a.startedAt, a.endedAt)).map((a) => a.endedAt - a.startedAt)),
          },
        }
      : {}),
  };

  // Lost updates: each counter must equal the writes that completed on its key.
  const written = new Map<string, number>();
  for (const s of sections) if (s.outcome === 'written') written.set(s.key, (written.get(s.key) ?? 0) + 1);
  const mismatches: { key: string; counter: number; written: number }[] = [];
  let lost = 0;
  let extra = 0;
  for (const key of new Set([...written.keys(), ...input.counters.keys()])) {
    const counter = input.counters.get(key) ?? 0;
    const writes = written.get(key) ?? 0;
    if (counter === writes) continue;
    mismatches.push({ key, counter, written: writes });
    lost += Math.max(0, writes - counter);
    extra += Math.max(0, counter - writes);
  }

  // Hangs: no acquire may take longer than wait + a small bound (a frozen process is excused).
  const hangs: { record: AcquireRecord; overByMs: number }[] = [];
  let maxOvershootMs = Number.NEGATIVE_INFINITY;
  let frozenAcquires = 0;
  const latencies = { hotQuiet: [] as number[], hotFaults: [] as number[], coldQuiet: [] as number[], coldFaults: [] as number[] };
  const unavailable: number[] = [];
  const errorsByCode = new Map<string, number>();
  for (const a of acquires) {
    const took = a.endedAt - a.startedAt;
    if (a.result !== 'ok') errorsByCode.set(a.result, (errorsByCode.get(a.result) ?? 0) + 1);
    if (frozen(a.proc, a.startedAt, a.endedAt)) {
      frozenAcquires += 1;
      continue;
    }
    maxOvershootMs = Math.max(maxOvershootMs, took - wait);
    if (took > wait + hangBoundMs) hangs.push({ record: a, overByMs: took - wait });
    if (a.result === 'QUORUM_UNAVAILABLE') unavailable.push(took);
    if (a.result !== 'ok') continue;
    const inFault = duringFault(a.startedAt, a.endedAt);
    (a.hot ? (inFault ? latencies.hotFaults : latencies.hotQuiet) : inFault ? latencies.coldFaults : latencies.coldQuiet).push(took);
  }
  if (losses.length > 0) errorsByCode.set('LOCK_LOST', losses.length);
  const releaseIncomplete = input.exits.reduce((n, e) => n + (e.summary?.releaseIncompleteEvents ?? 0), 0);
  if (releaseIncomplete > 0) errorsByCode.set('releaseIncomplete (event)', releaseIncomplete);

  const stuck = input.exits.flatMap((e) => e.stuck.map((a) => ({ proc: e.proc, key: a.key, startedAt: a.startedAt })));

  // Losses: the signal must fire before the lease ends, unless the process was frozen then.
  const reasons = new Map<string, number>();
  let inTime = 0;
  let lateFrozen = 0;
  const lateBlocked: LossRecord[] = [];
  const lateOther: LossRecord[] = [];
  for (const l of losses) {
    // Group by kind: drop the per-node details (addresses, timings) after the first ": #".
    const reason = l.reason.replace(/^lock on .* lost: /, '').replace(/: #.*$/, '');
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    if (l.at < l.validUntil) inTime += 1;
    else if (frozen(l.proc, l.validUntil - ttl, l.at + 1)) lateFrozen += 1;
    else if (l.loopBlocked !== undefined) lateBlocked.push(l);
    else lateOther.push(l);
  }
  const expired = sections.filter((s) => s.validUntil <= s.checkedAt && !frozen(s.proc, s.enteredAt, s.checkedAt + 1));

  const problems = [
    ...collected.problems.map((p) => `p${p.proc} ${p.kind}: ${p.message}`),
    ...input.exits.filter((e) => !e.clean).map((e) => `p${e.proc} did not stop cleanly (code ${e.code}, signal ${e.signal})`),
    ...input.chaosFailures.map((f) => `chaos: ${f}`),
  ];
  const injected = new Set(faults.map((f) => f.kind));
  const missingFaults = input.plannedKinds.filter((k) => !injected.has(k));

  return {
    sections: {
      total: sections.length,
      written: sections.filter((s) => s.outcome === 'written').length,
      skipped: sections.filter((s) => s.outcome === 'skipped').length,
      refused: sections.filter((s) => s.outcome === 'refused').length,
      refusedByFence: sections.filter((s) => s.outcome === 'refused-by-fence').length,
      read: sections.filter((s) => s.outcome === 'read').length,
      counted: sections.filter((s) => s.outcome === 'counted').length,
      long: sections.filter((s) => s.long).length,
    },
    overlaps,
    family,
    staleWrites,
    lostUpdates: { keys: new Set([...written.keys(), ...input.counters.keys()]).size, lost, extra, mismatches },
    hangs,
    stuck,
    maxOvershootMs,
    problems,
    errorsByCode,
    latency: [
      { label: 'cold keys (rarely contended)', quiet: distribution(latencies.coldQuiet), faults: distribution(latencies.coldFaults) },
      { label: 'hot keys (contended, includes waiting)', quiet: distribution(latencies.hotQuiet), faults: distribution(latencies.hotFaults) },
    ],
    frozenAcquires,
    unavailableLatency: distribution(unavailable),
    losses: { total: losses.length, inTime, lateFrozen, lateBlocked, lateOther, reasons },
    expiredUnfrozen: { total: expired.length, signalAborted: expired.filter((s) => s.abortedAtCheck).length },
    contenderPauses: pauses.map((fault) => contenderPauseEffect(fault, sections)),
    majorityDowns: faults.filter((f) => f.kind === 'majority-down').map((fault) => majorityDownEffect(fault, acquires)),
    faultEffects: faults.map((fault, i) => faultEffect(fault, acquires, Math.min(fault.endedAt + settleMs, faults[i + 1]?.startedAt ?? Number.POSITIVE_INFINITY))),
    missingFaults,
  };
}

function contenderPauseEffect(fault: FaultEvent, sections: readonly SectionRecord[]): ContenderPauseEffect {
  const held = sections.filter((s) => s.proc === fault.proc && s.enteredAt < fault.endedAt && s.leftAt > fault.startedAt);
  const expired = held.filter((s) => s.validUntil < fault.endedAt && s.checkedAt >= fault.startedAt);
  return {
    fault,
    held: held.length,
    expired: expired.length,
    signalAborted: expired.filter((s) => s.abortedAtCheck).length,
    remainingOnly: expired.filter((s) => !s.abortedAtCheck).length,
    written: expired.filter((s) => s.outcome === 'written' && s.workload !== 'fenced').length,
    refusedByStore: expired.filter((s) => s.outcome === 'refused').length,
    refusedByFence: expired.filter((s) => s.outcome === 'refused-by-fence').length,
    acceptedByFence: expired.filter((s) => s.outcome === 'written' && s.workload === 'fenced').length,
  };
}

function majorityDownEffect(fault: FaultEvent, acquires: readonly AcquireRecord[]): MajorityDownEffect {
  // Leave a little room after the kills: an attempt already answered by then may have won.
  const during = acquires.filter((a) => a.startedAt > fault.startedAt + 50 && a.endedAt < fault.liftedAt);
  const failed = during.filter((a) => a.result !== 'ok');
  const firstAfter = acquires
    .filter((a) => a.result === 'ok' && a.startedAt >= fault.liftedAt)
    .reduce<AcquireRecord | undefined>((best, a) => (best === undefined || a.endedAt < best.endedAt ? a : best), undefined);
  return {
    fault,
    attempts: during.length,
    unavailable: during.filter((a) => a.result === 'QUORUM_UNAVAILABLE').length,
    granted: during.filter((a) => a.result === 'ok').length,
    failLatency: distribution(failed.map((a) => a.endedAt - a.startedAt)),
    recoveryMs: firstAfter === undefined ? undefined : Math.max(0, firstAfter.endedAt - fault.endedAt),
  };
}

/** Acquires started from the fault until it settled (or the next fault began: none is counted twice). */
function faultEffect(fault: FaultEvent, acquires: readonly AcquireRecord[], until: number): FaultEffect {
  const during = acquires.filter((a) => a.startedAt >= fault.startedAt && a.startedAt < until);
  const count = (test: (a: AcquireRecord) => boolean) => during.filter(test).length;
  return {
    fault,
    ok: count((a) => a.result === 'ok'),
    busy: count((a) => a.result === 'LOCK_BUSY'),
    unavailable: count((a) => a.result === 'QUORUM_UNAVAILABLE'),
    other: count((a) => a.result !== 'ok' && a.result !== 'LOCK_BUSY' && a.result !== 'QUORUM_UNAVAILABLE'),
  };
}
