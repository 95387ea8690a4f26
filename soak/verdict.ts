import type { CheckResult } from './checker.js';

/**
 * pass / fail for a normal phase; for the unguarded hazard run, `demonstrated` when the double
 * grants it exists to show did happen (and nothing else went wrong), `not-demonstrated` otherwise.
 */
export interface Verdict {
  readonly status: 'pass' | 'fail' | 'demonstrated' | 'not-demonstrated';
  readonly failures: readonly string[];
}

export function judge(c: CheckResult, expectOverlaps: boolean): Verdict {
  const failures: string[] = [];
  const fail = (condition: boolean, text: string) => condition && failures.push(text);
  if (!expectOverlaps) {
    fail(c.overlaps.length > 0, `${c.overlaps.length} overlapping critical sections`);
    fail(c.lostUpdates.lost + c.lostUpdates.extra > 0, `counters off on ${c.lostUpdates.mismatches.length} keys (${c.lostUpdates.lost} lost updates, ${c.lostUpdates.extra} unaccounted writes)`);
  }
  fail(c.staleWrites.length > 0, `${c.staleWrites.length} writes by holders whose lease had already ended`);
  fail(c.hangs.length > 0, `${c.hangs.length} acquires took longer than wait + the hang bound`);
  fail(c.stuck.length > 0, `${c.stuck.length} acquires never returned`);
  fail(c.problems.length > 0, `${c.problems.length} unhandled errors / crashes / chaos failures`);
  fail(c.losses.lateOther.length > 0, `${c.losses.lateOther.length} lost locks signalled only after their validity ended (process not frozen)`);
  const unsignalled = c.contenderPauses.reduce((sum, p) => sum + p.remainingOnly, 0);
  fail(unsignalled > 0, `${unsignalled} locks that expired while their process was frozen did not have their signal aborted when the holder looked`);
  fail(c.missingFaults.length > 0, `faults never injected (run too short?): ${c.missingFaults.join(', ')}`);
  for (const m of c.majorityDowns) {
    fail(m.granted > 0, `${m.granted} locks granted while a majority of nodes was down`);
    fail(m.recoveryMs === undefined, 'no lock granted after the majority came back (no recovery)');
  }
  if (failures.length > 0) return { status: 'fail', failures };
  if (expectOverlaps) return { status: c.overlaps.length > 0 ? 'demonstrated' : 'not-demonstrated', failures };
  return { status: 'pass', failures };
}
