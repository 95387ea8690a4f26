import { FAULT_LABELS } from './chaos.js';
import type { FaultEvent, FaultKind } from './chaos.js';
import type { CheckResult } from './checker.js';
import type { PhaseResult } from './phase.js';
import type { Distribution } from './stats.js';

export interface RunInfo {
  readonly command: string;
  readonly date: string;
  readonly machine: string;
  readonly engine: string;
  readonly seed: number;
  readonly wallMs: number;
  readonly status: string;
}

const n = (x: number) => x.toLocaleString('en-US');
const ms = (x: number) => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(1) : Math.round(x)}` : '–');
const s = (x: number) => `${(x / 1000).toFixed(1)} s`;
const plural = (count: number, word: string) => `${n(count)} ${word}${count === 1 ? '' : 's'}`;
const mark = (ok: boolean) => (ok ? 'ok' : '**FAIL**');

const STATUS_TEXT = {
  pass: 'PASS',
  fail: '**FAIL**',
  demonstrated: 'hazard demonstrated (overlaps expected: restart guard off)',
  'not-demonstrated': '**hazard NOT demonstrated** (no overlap seen with the guard off)',
} as const;

const HAZARD_NOTE =
  'Rule 15: a node that loses its data forgets the locks it granted. With three nodes a lock often rests on a bare ' +
  'quorum of two (for instance when it was taken while a third node was still reconnecting); if one of those two ' +
  'forgets it, a rival can win on it and the third node while the first lock is still valid. With the restart ' +
  'guard (the default), such a node sits out of the quorum for the largest lease in use: the client tells it by a ' +
  'marker key the node lost, or by a script cache that a new server process does not have, both read by the ' +
  'acquire script itself, so that rival gets too few votes. Overlaps and lost updates in a run with the guard OFF ' +
  'are the hazard being shown, not a failure of that run.';

const isAmnesia = (scenario: string): boolean => scenario !== 'chaos';
const isFamily = (p: PhaseResult): boolean => p.spec.contender.workloads.some((w) => w !== 'mutex');

const FAMILY_NOTE =
  'Lock family workloads (`--workload`): each iteration picks one, on keys of its own. **rw**: read locks and write ' +
  'locks on the same keys; writers do the read-modify-write, readers read the counter on entry and again at the end, ' +
  'both reads answered only before the reader\'s lease ends on the store\'s clock. The checker sweeps each key\'s ' +
  'validity windows: a writer\'s window must be the only one open, readers may share. **semaphore**: at most `limit` ' +
  'windows of one key open at any instant; each holder also registers in a store-side set of live holders scored by ' +
  'its lease\'s end, which must never count more than `limit`. **fenced**: fenced locks, the counter written with ' +
  '`fencedWrite(client, key, value, lock.fence)` and nothing else (no lease check, no deadline): the store alone keeps ' +
  'stale writes out. The order of the writes the store accepted is the order of the counter values they wrote (each ' +
  'read the one before), and along it the fences must strictly increase; contender pauses freeze a process holding a ' +
  'long fenced lock past its lease, and its late write must be refused by fence.';

export function renderReport(info: RunInfo, phases: readonly PhaseResult[]): string {
  const out: string[] = [];
  const hazardOnly = phases.every((p) => isAmnesia(p.spec.scenario));
  out.push(hazardOnly ? '# Soak report: lock nodes that lose their data (rule 15), restart guard off and on' : '# Soak report', '');
  out.push(`- Command: \`${info.command}\``);
  out.push(`- Date: ${info.date} (took ${(info.wallMs / 60_000).toFixed(1)} min)`);
  out.push(`- Machine: ${info.machine}`);
  out.push(`- Engine: ${info.engine}`);
  out.push(`- Seed: ${info.seed}`);
  out.push(`- Result: **${info.status}**`, '');
  out.push(
    'Contenders are separate OS processes; each critical section records when it entered and left and the lock\'s ' +
      '`validUntil` on `process.hrtime` (one monotonic clock for every process), and does a read-modify-write of a per-key ' +
      'counter in a separate Redis. The checker (`soak/checker.ts`) uses none of the engine\'s code: no two validity windows ' +
      '`[entered, min(left, validUntil)]` of one key may overlap, every counter must equal the writes that completed on it, no ' +
      'acquire may take longer than `wait` + the hang bound, and no process may see an unhandled rejection, an `error` event ' +
      'or a crash. A holder writes only if `lock.signal` has not aborted and `lock.remaining` is at least 25 ms; the data ' +
      'store also refuses a write that arrives after the lease (a stand-in for a fencing token, rule 17), and the report ' +
      'counts such refusals separately. Reproduce with the command above; `npm run soak -- --help` lists the options. ' +
      'The restart hazard of rule 15 (nodes without persistence, guard off, then on) is ' +
      '`npm run soak -- --scenario empty-restart --restart-guard both`; its last report is `docs/restart-hazard.md`.',
    '',
  );
  if (phases.some((p) => isFamily(p))) out.push(FAMILY_NOTE, '');
  out.push('| phase | restart guard | duration | critical sections | overlaps | lost updates | hangs | unhandled errors | QUORUM_UNAVAILABLE | result |');
  out.push('|---|---|---|---|---|---|---|---|---|---|');
  phases.forEach((p, i) => {
    const c = p.check;
    out.push(
      `| ${i + 1}. ${p.spec.scenario} | ${p.spec.restartGuard === false ? 'off' : 'on'} | ${s(p.spec.durationMs)} | ${n(c.sections.total)} | ` +
        `${n(c.overlaps.length)} | ${n(c.lostUpdates.lost + c.lostUpdates.extra)} | ${n(c.hangs.length + c.stuck.length)} | ${n(c.problems.length)} | ` +
        `${n(c.errorsByCode.get('QUORUM_UNAVAILABLE') ?? 0)} | ${STATUS_TEXT[p.verdict.status]} |`,
    );
  });
  out.push('');
  phases.forEach((p, i) => out.push(...renderPhase(p, i + 1, phases.findIndex((q) => q.spec.scenario === p.spec.scenario) === i)));
  return out.join('\n');
}

function renderPhase(p: PhaseResult, index: number, firstOfScenario: boolean): string[] {
  const { spec, check: c, verdict } = p;
  const k = spec.contender;
  const out: string[] = [];
  out.push(`## Phase ${index}: ${spec.title}`, '');
  out.push(
    `${spec.processes} contender processes × ${k.workers} workers, ${spec.nodes} lock nodes + 1 data node, ` +
      `${k.hotKeys} hot keys and ${k.coldKeys} cold keys (${Math.round(k.hotShare * 100)} % of iterations on a hot key), ` +
      `ttl ${k.ttl} ms, wait ${k.wait} ms, critical sections of ${k.holdMs[0]}–${k.holdMs[1]} ms` +
      (k.longShare > 0 ? ` and ${Math.round(k.longShare * 100)} % long ones (auto-extended, ${k.longHoldMs[0]}–${k.longHoldMs[1]} ms), ` : ', ') +
      `${s(spec.durationMs)} of load, ${p.faults.length} faults. Result: **${STATUS_TEXT[verdict.status].replaceAll('**', '')}**.`,
  );
  if (isAmnesia(spec.scenario) && firstOfScenario) out.push('', HAZARD_NOTE);
  if (verdict.failures.length > 0) out.push('', ...verdict.failures.map((f) => `- FAIL: ${f}`));
  out.push('', '### Checks', '', '| check | result | |', '|---|---|---|');
  const expect0 = !spec.expectOverlaps;
  const lost = c.lostUpdates.lost + c.lostUpdates.extra;
  out.push(
    `| critical sections | ${n(c.sections.total)}: ${n(c.sections.written)} wrote the counter, ${n(c.sections.skipped)} skipped the write by the holder's own check, ` +
      `${n(c.sections.refused)} refused by the store's deadline check` +
      (isFamily(p) ? `, ${n(c.sections.refusedByFence)} refused by fence, ${n(c.sections.read)} readers read twice, ${n(c.sections.counted)} permits counted by the store` : '') +
      ' | |',
  );
  out.push(`| overlapping validity windows${expect0 ? ' (must be 0)' : ' (expected: guard off)'} | ${n(c.overlaps.length)} | ${expect0 ? mark(c.overlaps.length === 0) : 'expected'} |`);
  out.push(
    `| lost updates${expect0 ? ' (must be 0)' : ' (expected with overlaps)'} | ${n(lost)}${lost === 0 ? ` (counters exact on ${n(c.lostUpdates.keys)} keys)` : ` (${c.lostUpdates.mismatches.length} keys off: ${n(c.lostUpdates.lost)} lost, ${n(c.lostUpdates.extra)} unaccounted)`} | ${expect0 ? mark(lost === 0) : 'expected'} |`,
  );
  out.push(`| writes on an expired lease (must be 0) | ${n(c.staleWrites.length)} | ${mark(c.staleWrites.length === 0)} |`);
  out.push(
    `| acquires past wait + ${spec.hangBoundMs} ms, or never returning (must be 0) | ${n(c.hangs.length + c.stuck.length)} (longest: ${ms(c.maxOvershootMs)} ms past wait) | ${mark(c.hangs.length + c.stuck.length === 0)} |`,
  );
  out.push(`| unhandled rejections, 'error' events, crashes (must be 0) | ${n(c.problems.length)} | ${mark(c.problems.length === 0)} |`);
  out.push(
    `| lost locks signalled before their validity ended | ${n(c.losses.inTime)} of ${n(c.losses.total)} (${n(c.losses.lateFrozen)} late only because the process was frozen, ${n(c.losses.lateBlocked.length)} because its event loop was blocked across the end of validity) | ${mark(c.losses.lateOther.length === 0)} |`,
  );
  const downs = c.majorityDowns;
  if (downs.length > 0) {
    const granted = downs.reduce((sum, m) => sum + m.granted, 0);
    const attempts = downs.reduce((sum, m) => sum + m.attempts, 0);
    const unavailable = downs.reduce((sum, m) => sum + m.unavailable, 0);
    const slowestFail = Math.max(...downs.map((m) => (m.failLatency.count > 0 ? m.failLatency.max : 0)));
    const recoveries = downs.map((m) => m.recoveryMs);
    const recovered = recoveries.filter((r): r is number => r !== undefined);
    out.push(
      `| grants while a majority was down (must be 0) | ${n(granted)} of ${n(attempts)} attempts over ${plural(downs.length, 'outage')}; ${n(unavailable)} failed with QUORUM_UNAVAILABLE, the slowest after ${ms(slowestFail)} ms | ${mark(granted === 0)} |`,
    );
    const fastest = Math.min(...recovered);
    const slowest = Math.max(...recovered);
    out.push(
      `| recovery after the majority came back, without intervention | ${recovered.length} of ${plural(downs.length, 'outage')}; first lock ${fastest === slowest ? s(fastest) : `${s(fastest)}–${s(slowest)}`} after the nodes were up | ${mark(recovered.length === downs.length)} |`,
    );
  }
  if (c.contenderPauses.length > 0) {
    const expired = c.contenderPauses.reduce((sum, x) => sum + x.expired, 0);
    const aborted = c.contenderPauses.reduce((sum, x) => sum + x.signalAborted, 0);
    out.push(
      `| locks that expired while their process was frozen (SIGSTOP), signal aborted when the holder looked (must be all) | ${n(aborted)} of ${n(expired)} over ${plural(c.contenderPauses.length, 'pause')} | ${mark(aborted === expired)} |`,
    );
  }
  if (c.missingFaults.length > 0) out.push(`| faults never injected | ${c.missingFaults.join(', ')} | **FAIL** |`);
  if (isFamily(p)) out.push(...renderWorkloads(p));

  out.push('', '### Errors by code', '', '| code | count |', '|---|---|');
  const codes = [...c.errorsByCode.entries()].sort((a, b) => b[1] - a[1]);
  if (codes.length === 0) out.push('| (none) | 0 |');
  for (const [code, count] of codes) out.push(`| ${code} | ${n(count)} |`);

  out.push('', '### Acquire latency, ms (granted locks; "during faults" = from a fault until ' + `${s(spec.settleMs)} after it was lifted)`, '');
  out.push('| keys | quiet: n | p50 | p99 | max | during faults: n | p50 | p99 | max |', '|---|---|---|---|---|---|---|---|---|');
  for (const row of c.latency) out.push(`| ${row.label} | ${dist(row.quiet)} | ${dist(row.faults)} |`);
  const u = c.unavailableLatency;
  out.push('', `Failed with QUORUM_UNAVAILABLE: ${n(u.count)} calls, p50 ${ms(u.p50)} ms, p99 ${ms(u.p99)} ms, max ${ms(u.max)} ms.`);
  if (c.frozenAcquires > 0) out.push(`${n(c.frozenAcquires)} acquire calls of a process frozen by SIGSTOP are left out of the latency and hang figures.`);

  out.push('', '### Locks lost', '', '| | count |', '|---|---|');
  out.push(`| lost while held (signal aborted) | ${n(c.losses.total)} |`);
  out.push(`| signalled before the validity ended | ${n(c.losses.inTime)} |`);
  out.push(`| signalled after it, the process being frozen (SIGSTOP) at the time | ${n(c.losses.lateFrozen)} |`);
  out.push(
    `| signalled after it, the process's event loop blocked across the end of validity (no timer runs then; longest: ${ms(Math.max(0, ...c.losses.lateBlocked.map((l) => (l.loopBlocked ? l.loopBlocked.to - l.loopBlocked.from : 0))))} ms) | ${n(c.losses.lateBlocked.length)} |`,
  );
  out.push(`| signalled after it otherwise (must be 0) | ${n(c.losses.lateOther.length)} |`);
  for (const [reason, count] of [...c.losses.reasons.entries()].sort((a, b) => b[1] - a[1])) out.push(`| reason: ${reason} | ${n(count)} |`);
  out.push(
    `| leases that ended before the holder's check in a running process | ${n(c.expiredUnfrozen.total)} (signal already aborted in ${n(c.expiredUnfrozen.signalAborted)}) |`,
  );

  out.push(...renderFaults(p));
  if (c.overlaps.length > 0) out.push(...renderOverlaps(p));
  out.push('', '### Contender processes', '', '| process | exit | event-loop delay p99 / max, ms | lockLost events |', '|---|---|---|---|');
  for (const e of p.exits) {
    const exit = e.clean ? 'clean' : `code ${e.code}, signal ${e.signal}`;
    out.push(`| p${e.proc} | ${exit} | ${ms(e.summary?.loopDelayP99 ?? Number.NaN)} / ${ms(e.summary?.loopDelayMax ?? Number.NaN)} | ${e.summary?.lockLostEvents ?? '–'} |`);
  }
  if (c.problems.length > 0) out.push('', '### Problems', '', ...c.problems.slice(0, 50).map((x) => `- ${x}`));
  if (c.hangs.length > 0) {
    out.push('', '### Hangs', '', ...c.hangs.slice(0, 20).map((h) => `- p${h.record.proc} ${h.record.key}: ${h.record.result} after ${ms(h.overByMs)} ms past wait`));
  }
  out.push('');
  return out;
}

function renderWorkloads(p: PhaseResult): string[] {
  const { family, overlaps, lostUpdates } = p.check;
  const count = (w: string) => n(family.sectionsBy.get(w as never) ?? 0);
  // Keys say their workload (`rw:hot:0`); the mutex keeps the plain `hot:0` / `cold:0`.
  const isMutexKey = (key: string) => /^(hot|cold):/.test(key);
  const overlapsOf = (test: (key: string) => boolean) => overlaps.filter((o) => test(o.key)).length;
  const lostOf = (test: (key: string) => boolean) => lostUpdates.mismatches.filter((m) => test(m.key)).length;
  const out = ['', '### Workloads', '', '| workload | sections | check | result |', '|---|---|---|---|'];
  const workloads = p.spec.contender.workloads;
  if (workloads.includes('mutex')) {
    const o = overlapsOf(isMutexKey);
    const lost = lostOf(isMutexKey);
    out.push(`| mutex | ${count('mutex')} | overlapping validity windows: ${n(o)}; keys whose counter is off: ${n(lost)} | ${mark(o + lost === 0)} |`);
  }
  const { rw, semaphore, fenced } = family;
  if (rw) {
    const lost = lostOf((k) => k.startsWith('rw:'));
    out.push(
      `| rw (${Math.round(p.spec.contender.readShare * 100)} % reads) | ${n(rw.reads)} read, ${n(rw.writes)} write | ` +
        `entries while a writer held the key, or of a writer while anyone held it: ${n(rw.violations.length)}; readers that saw the counter change while valid: ` +
        `${n(rw.readChanged)} of ${n(rw.readsChecked)} that read it twice; keys whose counter is off: ${n(lost)}; most readers at once on a key: ${n(rw.mostReadersAtOnce)} | ` +
        `${mark(rw.violations.length + rw.readChanged + lost === 0)} |`,
    );
  }
  if (semaphore) {
    out.push(
      `| semaphore (limit ${semaphore.limit}) | ${count('semaphore')} | entries with more than ${semaphore.limit} validity windows open: ${n(semaphore.violations.length)}; ` +
        `most open at once: ${n(semaphore.mostAtOnce)} (the limit reached on ${n(semaphore.keysAtLimit)} keys); most live holders the store counted: ${n(semaphore.mostInStore)} | ` +
        `${mark(semaphore.violations.length + semaphore.storeOverLimit === 0)} |`,
    );
  }
  if (fenced) {
    const o = overlapsOf((k) => k.startsWith('fenced:'));
    const lost = lostOf((k) => k.startsWith('fenced:'));
    const f = fenced.frozen;
    const demonstrated = !p.spec.chaos.pauseFencedHolders || f.expired === 0 || f.refused > 0;
    out.push(
      `| fenced | ${count('fenced')} | accepted writes whose fence did not exceed the one before (store order): ${n(fenced.inversions.length)}; ` +
        `${n(fenced.accepted)} accepted, ${n(fenced.refusedByFence)} refused by fence (${n(fenced.refusedWrongly)} wrongly); overlapping validity windows: ${n(o)}; keys whose counter is off: ${n(lost)} | ` +
        `${mark(fenced.inversions.length + fenced.refusedWrongly + o + lost === 0)} |`,
    );
    out.push(
      `| fenced, holders frozen past their lease | ${n(f.expired)} over ${plural(f.pauses, 'pause')} | late writes refused by fence: ${n(f.refused)}, accepted: ${n(f.accepted)} ` +
        `(accepted only if nobody wrote the key meanwhile); all writes sent after the lease: ${n(fenced.late.total)} (${n(fenced.late.refused)} refused, ${n(fenced.late.accepted)} accepted) | ` +
        `${demonstrated ? (f.expired === 0 ? 'no fenced holder frozen' : 'ok') : '**FAIL** (no refusal shown)'} |`,
    );
  }
  const { fair } = family;
  if (fair) {
    const o = overlapsOf((k) => k.startsWith('fair:'));
    const lost = lostOf((k) => k.startsWith('fair:'));
    const stuck = fair.drain.filter((d) => !d.granted).length;
    out.push(
      `| fair | ${count('fair')} | overlapping validity windows: ${n(o)}; keys whose counter is off: ${n(lost)}; waiters killed in line: ${n(fair.waitersKilled)}; ` +
        `longest wait of a granted fair acquire (frozen processes left out): ${ms(fair.longestGrantedWaitMs)} ms; lines tried after the run: ${n(fair.drain.length)}, granted in at most ${ms(Math.max(0, ...fair.drain.map((d) => d.ms)))} ms, stuck: ${n(stuck)} | ` +
        `${mark(o + lost + stuck === 0 && fair.drain.length > 0)} |`,
    );
  }
  out.push('', '| acquire calls by workload | granted | LOCK_BUSY (waited `wait` in vain) | QUORUM_UNAVAILABLE | other |', '|---|---|---|---|---|');
  for (const [label, row] of [...family.acquiresBy.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    out.push(`| ${label} | ${n(row.ok)} | ${n(row.busy)} | ${n(row.unavailable)} | ${n(row.other)} |`);
  }
  return out;
}

function dist(d: Distribution): string {
  return `${n(d.count)} | ${ms(d.p50)} | ${ms(d.p99)} | ${ms(d.max)}`;
}

function target(f: FaultEvent): string {
  if (f.proc !== undefined) return `contender p${f.proc}`;
  if (f.kind === 'kill-waiter') return 'a fair waiter';
  return f.nodes.length === 1 ? `node ${f.nodes[0]}` : `nodes ${f.nodes.join(', ')}`;
}

function renderFaults(p: PhaseResult): string[] {
  const { check: c } = p;
  const out: string[] = ['', '### Faults', ''];
  if (isAmnesia(p.spec.scenario)) {
    const byNode = new Map<number, number>();
    for (const f of p.faults) for (const node of f.nodes) byNode.set(node, (byNode.get(node) ?? 0) + 1);
    out.push(
      `${n(p.faults.length)} × ${FAULT_LABELS[p.spec.scenario as FaultKind]}, never the same node twice in a row (${[...byNode.entries()].sort((a, b) => a[0] - b[0]).map(([node, count]) => `node ${node}: ${count}`).join(', ')}), ` +
        (p.spec.chaos.burst
          ? `in bursts of ${p.spec.chaos.burst.size} faults ${ms(p.spec.chaos.burst.gapMs[0])}–${ms(p.spec.chaos.burst.gapMs[1])} ms apart (a rolling restart faster than the lease), ` +
            `${s(p.spec.chaos.gapMs[0])}–${s(p.spec.chaos.gapMs[1])} between bursts.`
          : `${s(p.spec.chaos.gapMs[0])}–${s(p.spec.chaos.gapMs[1])} apart.`),
    );
    return out;
  }
  out.push('| # | at | fault | target | lasted | acquires started until it settled: ok / busy / unavailable | effect |', '|---|---|---|---|---|---|---|');
  c.faultEffects.forEach((e, i) => {
    const f = e.fault;
    out.push(
      `| ${i + 1} | ${s(f.startedAt - p.startedAt)} | ${FAULT_LABELS[f.kind]} | ${target(f)} | ${s(f.endedAt - f.startedAt)} | ` +
        `${n(e.ok)} / ${n(e.busy)} / ${n(e.unavailable)}${e.other > 0 ? ` (+${e.other} other)` : ''} | ${effect(c, f)} |`,
    );
  });
  return out;
}

function effect(c: CheckResult, f: FaultEvent): string {
  const pause = c.contenderPauses.find((x) => x.fault === f);
  if (pause) {
    return (
      `${plural(pause.held, 'lock')} held across the pause, ${pause.expired} expired during it: signal already aborted at the holder's check in ${pause.signalAborted}, ` +
      `only \`remaining\` = 0 in ${pause.remainingOnly}; writes after expiry: ${pause.written}${pause.refusedByStore > 0 ? `, ${pause.refusedByStore} refused by the store` : ''}` +
      (pause.refusedByFence + pause.acceptedByFence > 0 ? `; fenced late writes: ${pause.refusedByFence} refused by fence, ${pause.acceptedByFence} accepted` : '')
    );
  }
  const down = c.majorityDowns.find((x) => x.fault === f);
  if (down) {
    return (
      `${down.unavailable} of ${down.attempts} attempts failed with QUORUM_UNAVAILABLE (max ${ms(down.failLatency.max)} ms), ${down.granted} granted; ` +
      (down.recoveryMs === undefined ? 'no recovery' : `first lock ${s(down.recoveryMs)} after the nodes were back`)
    );
  }
  return '';
}

function renderOverlaps(p: PhaseResult): string[] {
  const overlaps = p.check.overlaps;
  const out = ['', `### Overlaps (${n(overlaps.length)}; the first 20 in time)`, ''];
  out.push('| key | first holder | second holder | both inside for | second entered | last fault before it |', '|---|---|---|---|---|---|');
  for (const o of [...overlaps].sort((a, b) => a.second.enteredAt - b.second.enteredAt).slice(0, 20)) {
    const before = p.faults.filter((f) => f.startedAt <= o.second.enteredAt).at(-1);
    const fault = before ? `${before.kind} of ${target(before)}, ${ms(o.second.enteredAt - before.endedAt)} ms after it ended` : 'none';
    out.push(`| ${o.key} | ${o.first.owner} | ${o.second.owner} | ${ms(o.byMs)} ms | ${s(o.second.enteredAt - p.startedAt)} | ${fault} |`);
  }
  const byMs = overlaps.map((o) => o.byMs).sort((a, b) => a - b);
  out.push('', `Overlap durations: median ${ms(byMs[Math.floor(byMs.length / 2)])} ms, longest ${ms(byMs[byMs.length - 1])} ms.`);
  return out;
}
