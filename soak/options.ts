import { parseArgs } from 'node:util';
import { AMNESIA_FAULTS, FAIR_FAULTS, FAULT_KINDS, FAULT_LABELS, SURVIVABLE_FAULTS, timingsFor } from './chaos.js';
import type { AmnesiaFault, FaultKind } from './chaos.js';
import type { PhaseSpec, Scenario } from './phase.js';
import { WORKLOADS } from './protocol.js';
import type { Workload } from './protocol.js';

export const HELP = `npm run soak -- [options]

Fault-injection soak of the Redlock engine: contender processes fight over keys on real
redis-server nodes while faults are injected; an independent checker then reports overlaps,
lost updates, hangs and errors. Exit code 0 = pass, 1 = a check failed, 2 = the unguarded hazard
run did not show the double grant it exists to show, 130 = interrupted.

Scenarios
  --scenario chaos          (default) N=5 durable nodes (AOF, appendfsync always), every fault kind
  --scenario empty-restart  N=3 nodes WITHOUT persistence, restarted empty in rolling pairs while
                            locks are held (the hazard of CORRECTNESS rule 15)
  --scenario flushall       the same, by FLUSHALL on a node (same process, same connections)
  --scenario proxied-restart   restarted empty behind proxies that keep the clients' connections
  --scenario snapshot-restart  restarted from an RDB snapshot taken 400-700 ms before
  --scenario replaced-node  N=3 durable nodes (AOF), one replaced by an empty one (a new disk)
  --restart-guard on|off|both   the engine's restartGuard option (default on). With off, overlaps in
                            these scenarios are the expected demonstration; both = the pair, off then on
  --ci                      CI preset: 55 s of chaos with every fault kind exactly once, 27 s of the
                            family workload under a contender pause and a node kill, then 15 s of
                            guarded empty-restart and 10 s of each other guarded scenario above

Workloads (chaos scenario)
  --workload mutex          (default) every worker takes a plain lock and does a read-modify-write of
                            a counter, the store refusing writes after the lease (deadline check)
  --workload rw             read locks (--read-share of them) and write locks on the same keys:
                            writers do the read-modify-write, readers read the counter twice
  --workload semaphore      limit --limit; holders register in a store-side set of live holders
  --workload fenced         fenced locks; the counter written with fencedWrite() and no lease check
                            (the fence alone protects it); contender pauses freeze fenced holders
  --workload fair           fair locks (waiters in line) doing the mutex's read-modify-write; adds the
                            kill-waiter fault, and after the run every hot key's line must grant
  --workload family         all five at once, each iteration picking one (keys apart per workload)
  --read-share <0..1>       rw: share of read locks (0.8)
  --limit <n>               semaphore: permits per key (3)

Options (defaults for chaos / empty-restart)
  --duration <s>       seconds per phase (300 / 60)
  --processes <n>      contender processes (4 / 4)
  --workers <n>        workers per process (8 / 6)
  --nodes <n>          lock nodes (5 / 3)
  --hot-keys <n>       hot keys (3 / 12; 2 per workload for the other workloads)
  --cold-keys <n>      cold keys (200 / 0)
  --hot-share <0..1>   share of iterations on a hot key (0.25 / 1; 0.75 for the other workloads)
  --ttl <ms>           lease (1500 / 1000)
  --wait <ms>          acquire wait (2000 / 2000)
  --chaos <list>       fault kinds, comma-separated, or all / none (${SURVIVABLE_FAULTS.join(',')} / the scenario's own)
  --hang-bound <ms>    an acquire may take at most wait + this (500)
  --seed <n>           seed of every random choice (random)
  --report <path>      Markdown report file (.tmp/soak-report.md)
  --raw <path>         also dump every record and fault as JSON (to dig into a failure)
  --help`;

export interface RunPlan {
  readonly phases: readonly PhaseSpec[];
  readonly reportPath: string;
  /** Where to dump every record as JSON (for digging into a failure), if anywhere. */
  readonly rawPath: string | undefined;
  readonly seed: number;
  readonly preset: string;
}

interface Overrides {
  duration?: number;
  processes?: number;
  workers?: number;
  nodes?: number;
  hotKeys?: number;
  coldKeys?: number;
  hotShare?: number;
  ttl?: number;
  wait?: number;
  chaos?: FaultKind[];
  hangBound?: number;
  workloads?: Workload[];
  readShare?: number;
  limit?: number;
}

export class UsageError extends Error {}

export function planFromArgs(argv: readonly string[]): RunPlan | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      scenario: { type: 'string' },
      'restart-guard': { type: 'string' },
      ci: { type: 'boolean' },
      duration: { type: 'string' },
      processes: { type: 'string' },
      workers: { type: 'string' },
      nodes: { type: 'string' },
      'hot-keys': { type: 'string' },
      'cold-keys': { type: 'string' },
      'hot-share': { type: 'string' },
      ttl: { type: 'string' },
      wait: { type: 'string' },
      chaos: { type: 'string' },
      'hang-bound': { type: 'string' },
      workload: { type: 'string' },
      'read-share': { type: 'string' },
      limit: { type: 'string' },
      seed: { type: 'string' },
      report: { type: 'string' },
      raw: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const scenario = (values.scenario ?? 'chaos') as Scenario;
  if (scenario !== 'chaos' && !(AMNESIA_FAULTS as readonly string[]).includes(scenario)) {
    throw new UsageError(`--scenario must be chaos or one of ${AMNESIA_FAULTS.join(', ')}, got ${values.scenario}`);
  }
  const guardArg = values['restart-guard'] ?? 'on';
  if (!['on', 'off', 'both'].includes(guardArg)) throw new UsageError(`--restart-guard must be on, off or both, got ${guardArg}`);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : int(values.seed, '--seed', 0);
  const o: Overrides = {
    duration: optionalInt(values.duration, '--duration', 1),
    processes: optionalInt(values.processes, '--processes', 1),
    workers: optionalInt(values.workers, '--workers', 1),
    nodes: optionalInt(values.nodes, '--nodes', 1),
    hotKeys: optionalInt(values['hot-keys'], '--hot-keys', 0),
    coldKeys: optionalInt(values['cold-keys'], '--cold-keys', 0),
    hotShare: values['hot-share'] === undefined ? undefined : share(values['hot-share'], '--hot-share'),
    ttl: optionalInt(values.ttl, '--ttl', 100),
    wait: optionalInt(values.wait, '--wait', 0),
    chaos: values.chaos === undefined ? undefined : faultList(values.chaos),
    hangBound: optionalInt(values['hang-bound'], '--hang-bound', 0),
    workloads: values.workload === undefined ? undefined : workloadList(values.workload),
    readShare: values['read-share'] === undefined ? undefined : share(values['read-share'], '--read-share'),
    limit: optionalInt(values.limit, '--limit', 1),
  };
  if (o.workloads !== undefined && scenario !== 'chaos' && !values.ci && o.workloads.some((w) => w !== 'mutex')) {
    throw new UsageError(`--workload ${values.workload} runs in the chaos scenario only (the rule-15 scenarios soak the mutex)`);
  }
  const reportPath = values.report ?? '.tmp/soak-report.md';
  const rawPath = values.raw;

  if (values.ci) {
    // CI: every survivable fault exactly once in a short chaos phase, then a short guarded
    // empty-restart phase (the delayed-restart rule must hold with nodes that lose their data).
    return {
      preset: 'ci',
      seed,
      reportPath,
      rawPath,
      phases: [
        chaosPhase({ ...o, duration: o.duration ?? 55, workloads: undefined }, true, seed, { warmupMs: 4_000, cooldownMs: 3_000, gapMs: [1_500, 2_500], rounds: 1 }),
        // The lock family briefly: a frozen fenced holder (its late write refused by fence), a node
        // kill and a waiter killed in a fair line, with readers, writers, permits, fenced holders
        // and fair waiters all at work.
        chaosPhase({ ...o, duration: 27, workloads: [...WORKLOADS], chaos: ['pause-contender', 'kill-node', 'kill-waiter'] }, true, seed + 100, {
          warmupMs: 4_000, cooldownMs: 3_000, gapMs: [1_500, 2_500], rounds: 1,
        }),
        amnesiaPhase('empty-restart', { ...o, duration: 15, nodes: undefined, chaos: undefined }, true, seed + 1),
        ...AMNESIA_FAULTS.filter((kind) => kind !== 'empty-restart').map((kind, i) =>
          amnesiaPhase(kind, { ...o, duration: 10, nodes: undefined, chaos: undefined }, true, seed + 2 + i)),
      ],
    };
  }
  const guards = guardArg === 'both' ? [false, true] : [guardArg === 'on'];
  return {
    preset: scenario,
    seed,
    reportPath,
    rawPath,
    phases: guards.map((guard, i) => (scenario === 'chaos' ? chaosPhase(o, guard, seed + i) : amnesiaPhase(scenario, o, guard, seed + i))),
  };
}

function chaosPhase(o: Overrides, guard: boolean, seed: number, plan: Partial<PhaseSpec['chaos']> = {}): PhaseSpec {
  const ttl = o.ttl ?? 1_500;
  const nodes = o.nodes ?? 5;
  const workloads = o.workloads ?? ['mutex'];
  const family = workloads.some((w) => w !== 'mutex');
  const named = workloads.length === WORKLOADS.length ? `family (${WORKLOADS.join(', ')})` : workloads.join(', ');
  return {
    title: `chaos: ${nodes} durable lock nodes (AOF, appendfsync always), restart guard ${guard ? 'on' : 'off'}${family ? `, workload ${named}` : ''}`,
    scenario: 'chaos',
    nodes,
    persist: true,
    restartGuard: guard ? undefined : false,
    durationMs: (o.duration ?? 300) * 1_000,
    processes: o.processes ?? 4,
    contender: {
      workers: o.workers ?? 8,
      // The family's keys are split per workload: fewer, busier hot keys keep each contended
      // (a semaphore of 3 must fill up, a writer must meet readers).
      hotKeys: o.hotKeys ?? (family ? 2 : 3),
      coldKeys: o.coldKeys ?? 200,
      hotShare: o.hotShare ?? (family ? 0.75 : 0.25),
      ttl,
      wait: o.wait ?? 2_000,
      retryDelay: 50,
      retryJitter: 50,
      holdMs: [1, 10],
      // Some sections outlive several leases, so auto-extension runs through the faults too.
      longShare: 0.05,
      longHoldMs: [Math.round(0.5 * ttl), Math.round(2.5 * ttl)],
      thinkMs: [5, 25],
      writeMargin: 25,
      workloads,
      readShare: o.readShare ?? 0.8,
      limit: o.limit ?? 3,
    },
    chaos: {
      kinds: o.chaos ?? [...SURVIVABLE_FAULTS, ...(workloads.includes('fair') ? FAIR_FAULTS : [])],
      pauseFencedHolders: workloads.includes('fenced'),
      warmupMs: 10_000,
      cooldownMs: 5_000,
      gapMs: [3_000, 6_000],
      rounds: Number.POSITIVE_INFINITY,
      timings: timingsFor(ttl),
      ...plan,
    },
    hangBoundMs: o.hangBound ?? 500,
    settleMs: 2_000,
    expectOverlaps: false,
    seed,
  };
}

/**
 * The hazards of rule 15, tuned to show double grants quickly. Three nodes, so a lock often sits on
 * a bare quorum of two: whoever acquires in the ~100 ms while a just-restarted node X is still
 * reconnecting gets only the other two. Losses come in rolling pairs: 150–350 ms after X, another
 * node Y loses its data while those holders (holding 40–80 % of a short lease) still hold, and a
 * rival now wins on X and Y, both amnesiac, while the first lock is valid. The guard keeps X and Y out.
 */
function amnesiaPhase(kind: AmnesiaFault, o: Overrides, guard: boolean, seed: number): PhaseSpec {
  const ttl = o.ttl ?? 1_000;
  const nodes = o.nodes ?? 3;
  const durable = kind === 'replaced-node';
  return {
    title: `${kind}: ${nodes} lock nodes ${durable ? 'with AOF (appendfsync always)' : 'without persistence'}; ${FAULT_LABELS[kind].replace('a lock node', 'a node')}, in rolling pairs; restart guard ${guard ? 'on (default)' : 'OFF'}`,
    scenario: kind,
    nodes,
    persist: durable,
    stickyProxies: kind === 'proxied-restart',
    restartGuard: guard ? undefined : false,
    durationMs: (o.duration ?? 60) * 1_000,
    processes: o.processes ?? 4,
    contender: {
      workers: o.workers ?? 6,
      hotKeys: o.hotKeys ?? 12,
      coldKeys: o.coldKeys ?? 0,
      hotShare: o.hotShare ?? 1,
      ttl,
      wait: o.wait ?? 2_000,
      retryDelay: 10,
      retryJitter: 20,
      holdMs: [Math.round(0.4 * ttl), Math.round(0.8 * ttl)],
      longShare: 0,
      longHoldMs: [0, 0],
      thinkMs: [0, 20],
      writeMargin: 25,
      workloads: ['mutex'],
      readShare: 0,
      limit: 1,
    },
    chaos: {
      kinds: o.chaos ?? [kind],
      warmupMs: 1_000,
      cooldownMs: 1_500,
      // Two nodes restarted 150–350 ms apart, then ~2.5 s of quiet so that the guarded run (which
      // keeps each restarted node out for a lease) can work between the pairs.
      burst: { size: 2, gapMs: [150, 350] },
      gapMs: [2_000, 3_000],
      rounds: Number.POSITIVE_INFINITY,
      timings: timingsFor(ttl),
    },
    hangBoundMs: o.hangBound ?? 500,
    settleMs: 2_000,
    expectOverlaps: !guard,
    seed,
  };
}

function int(text: string, flag: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be a whole number >= ${min}, got ${text}`);
  return n;
}

function optionalInt(text: string | undefined, flag: string, min: number): number | undefined {
  return text === undefined ? undefined : int(text, flag, min);
}

function share(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`${flag} must be a number from 0 to 1, got ${text}`);
  return n;
}

function workloadList(text: string): Workload[] {
  if (text === 'family') return [...WORKLOADS];
  if (!(WORKLOADS as readonly string[]).includes(text)) throw new UsageError(`--workload must be one of ${WORKLOADS.join(', ')} or family, got ${text}`);
  return [text as Workload];
}

function faultList(text: string): FaultKind[] {
  if (text === 'all') return [...SURVIVABLE_FAULTS];
  if (text === 'none') return [];
  const kinds = text.split(',').map((k) => k.trim());
  for (const kind of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) throw new UsageError(`--chaos: unknown fault ${kind} (known: ${FAULT_KINDS.join(', ')})`);
  }
  return kinds as FaultKind[];
}
