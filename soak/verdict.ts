import type { CheckResult } from './checker.js';

/**
 * pass / fail for a normal phase; for the unguarded hazard run, `demonstrated` when the double
 * grants it exists to show did happen (and nothing else went wrong), `not-demonstrated` otherwise.
 */
export interface Verdict {
  readonly status: 'pass' | 'fail' | 'demonstrated' | 'not-demonstrated';
  readonly failures: readonly string[];
}

export function judge(c: CheckResult, expectOverlaps: boolean, fencedPauses = false): Verdict {
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
  const { rw, semaphore, fenced, fair } = c.family;
  if (fair) {
    const stuck = fair.drain.filter((d) => !d.granted);
    fail(fair.drain.length === 0, 'fair: the lines were never tried after the run');
    fail(stuck.length > 0, `fair: ${stuck.length} lines still refused a fair acquire after the run (${stuck.map((d) => `${d.key}: ${d.error ?? 'busy'}`).join('; ')})`);
  }
  if (rw) {
    fail(rw.violations.length > 0, `rw: ${rw.violations.length} entries into a key while a writer held it, or of a writer while anyone held it`);
    fail(rw.readChanged > 0, `rw: ${rw.readChanged} readers saw the counter change while their lease was valid`);
  }
  if (semaphore) {
    fail(semaphore.violations.length > 0, `semaphore: ${semaphore.violations.length} entries with more than ${semaphore.limit} validity windows open`);
    fail(semaphore.storeOverLimit > 0, `semaphore: the store counted more than ${semaphore.limit} live holders ${semaphore.storeOverLimit} times`);
  }
  if (fenced) {
    fail(fenced.inversions.length > 0, `fenced: ${fenced.inversions.length} accepted writes whose fence was not larger than the write before them`);
    fail(fenced.refusedWrongly > 0, `fenced: ${fenced.refusedWrongly} writes refused although no larger fence had been seen`);
    // The pause exists to show the store refusing a frozen holder's late write by its fence.
    fail(
      fencedPauses && fenced.frozen.expired > 0 && fenced.frozen.refused === 0,
      `fenced: ${fenced.frozen.expired} fenced leases ended while their process was frozen, and the store refused none of their late writes by fence`,
    );
  }
  fail(c.missingFaults.length > 0, `faults never injected (run too short?): ${c.missingFaults.join(', ')}`);
  for (const m of c.majorityDowns) {
    fail(m.granted > 0, `${m.granted} locks granted while a majority of nodes was down`);
    fail(m.recoveryMs === undefined, 'no lock granted after the majority came back (no recovery)');
  }
  if (failures.length > 0) return { status: 'fail', failures };
  if (expectOverlaps) return { status: c.overlaps.length > 0 ? 'demonstrated' : 'not-demonstrated', failures };
  return { status: 'pass', failures };
}
