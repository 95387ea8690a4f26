// The bench's Markdown report: every figure per library, with its ratio to the raw floor and to
// the best peer (the best of the other libraries, nestjs-redlock and the floor left out).
import type { Distribution } from '../soak/stats.js';
import type { Pacing } from './libraries.js';
import type { Contention } from './scenarios.js';

export interface LibraryFigures {
  name: string;
  version: string;
  errors: number;
  uncontendedN1?: Distribution;
  uncontendedN5?: Distribution;
  throughput?: number;
  contention?: Contention;
  /** The same 16 workers with `fair: true` (ours only). */
  fairContention?: Contention;
  herd?: { ms: number; served: number; commandsPerHandoff: number; requestsPerHandoff?: number; errors: number };
  manyHeld?: { acquireMs: number; releaseMs: number; held: number; errors: number };
}

export interface BenchResult {
  command: string;
  date: string;
  machine: string;
  loadAverage: { before: number[]; after: number[] };
  pacing: Pacing;
  quick: boolean;
  libraries: LibraryFigures[];
}

const OURS = 'nestjs-redlock';
const FLOOR = 'floor';

interface Metric {
  readonly label: string;
  readonly unit: string;
  readonly better: 'lower' | 'higher';
  readonly of: (f: LibraryFigures) => number | undefined;
}

const METRICS: readonly Metric[] = [
  { label: 'uncontended acquire+release p50, N=1', unit: 'ms', better: 'lower', of: (f) => f.uncontendedN1?.p50 },
  { label: 'uncontended acquire+release p99, N=1', unit: 'ms', better: 'lower', of: (f) => f.uncontendedN1?.p99 },
  { label: 'uncontended acquire+release p50, N=5', unit: 'ms', better: 'lower', of: (f) => f.uncontendedN5?.p50 },
  { label: 'uncontended acquire+release p99, N=5', unit: 'ms', better: 'lower', of: (f) => f.uncontendedN5?.p99 },
  { label: 'throughput, 64 loops on distinct keys', unit: 'cycles/s', better: 'higher', of: (f) => f.throughput },
  { label: '16 workers on one key (2 ms hold): critical sections', unit: '/s', better: 'higher', of: (f) => f.contention?.sectionsPerSecond },
  { label: '… handoff to another worker p50', unit: 'ms', better: 'lower', of: (f) => f.contention?.handoffToOther.p50 },
  { label: '… handoff to another worker p99', unit: 'ms', better: 'lower', of: (f) => f.contention?.handoffToOther.p99 },
  { label: '… longest wait', unit: 'ms', better: 'lower', of: (f) => f.contention?.longestWaitMs },
  { label: '… handoffs the releasing worker won back', unit: '%', better: 'lower', of: (f) => (f.contention ? f.contention.wonBack * 100 : undefined) },
  { label: '… requests sent to the nodes per critical section', unit: '', better: 'lower', of: (f) => f.contention?.requestsPerSection },
  { label: '… Redis commands run per critical section (scripts\' own calls included)', unit: '', better: 'lower', of: (f) => f.contention?.commandsPerSection },
  { label: '16 workers, `fair: true` (ours only): critical sections', unit: '/s', better: 'higher', of: (f) => f.fairContention?.sectionsPerSecond },
  { label: '… handoff to another worker p99', unit: 'ms', better: 'lower', of: (f) => f.fairContention?.handoffToOther.p99 },
  { label: '… longest wait', unit: 'ms', better: 'lower', of: (f) => f.fairContention?.longestWaitMs },
  { label: '… handoffs the releasing worker won back', unit: '%', better: 'lower', of: (f) => (f.fairContention ? f.fairContention.wonBack * 100 : undefined) },
  { label: '256 waiters on one key, 1 ms each: all served in', unit: 'ms', better: 'lower', of: (f) => f.herd?.ms },
  { label: '… requests sent to the nodes per handoff', unit: '', better: 'lower', of: (f) => f.herd?.requestsPerHandoff },
  { label: '… Redis commands run per handoff (scripts\' own calls included)', unit: '', better: 'lower', of: (f) => f.herd?.commandsPerHandoff },
  { label: 'distinct keys held at once: taken in', unit: 'ms', better: 'lower', of: (f) => f.manyHeld?.acquireMs },
];

const fmt = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(2));
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !b || Number.isNaN(a) || Number.isNaN(b) ? '–' : `${(a / b).toFixed(2)}x`);

export function renderBenchReport(r: BenchResult): string {
  const peers = r.libraries.filter((l) => l.name !== OURS && l.name !== FLOOR);
  const ours = r.libraries.find((l) => l.name === OURS);
  const floor = r.libraries.find((l) => l.name === FLOOR);
  const out: string[] = [];
  out.push(`# Benchmark: nestjs-redlock and the other Node lock libraries${r.quick ? ' (quick run: a smoke, not figures to quote)' : ''}`, '');
  out.push(`- Command: \`${r.command}\``);
  out.push(`- Date: ${r.date}`);
  out.push(`- Machine: ${r.machine}`);
  out.push(`- Load average (1, 5, 15 min): before ${r.loadAverage.before.map((x) => x.toFixed(2)).join(', ')}; after ${r.loadAverage.after.map((x) => x.toFixed(2)).join(', ')}`);
  out.push(`- Libraries: ${r.libraries.map((l) => `${l.name} ${l.version}`).join('; ')}`);
  out.push(
    `- Alike for all: lease ${r.pacing.ttl} ms, wait up to ${r.pacing.wait} ms, retry every ${r.pacing.retryDelay} ms + up to ${r.pacing.retryJitter} ms of jitter where the library has one (redis-semaphore: a fixed interval), no auto-extension; redis-server nodes on loopback without persistence, one ioredis client per node per library.`,
    '',
  );
  out.push(
    'The floor is not a lock library: SET NX PX on every node in parallel, a quorum count, compare-and-delete on every node, no validity arithmetic and no safety rule beyond that. It is what the physical minimum costs here. "Best peer" is the best of the other libraries for that figure.',
    '',
  );
  out.push(`| figure | ${r.libraries.map((l) => l.name).join(' | ')} | ours / floor | ours / best peer |`);
  out.push(`|---|${r.libraries.map(() => '---').join('|')}|---|---|`);
  for (const m of METRICS) {
    const values = peers.map(m.of).filter((v): v is number => v !== undefined && !Number.isNaN(v));
    const best = values.length === 0 ? undefined : m.better === 'lower' ? Math.min(...values) : Math.max(...values);
    const cells = r.libraries.map((l) => fmt(m.of(l)));
    out.push(`| ${m.label}${m.unit ? ` (${m.unit})` : ''} | ${cells.join(' | ')} | ${ratio(ours && m.of(ours), floor && m.of(floor))} | ${ratio(ours && m.of(ours), best)} |`);
  }
  out.push(`| errors (calls that failed) | ${r.libraries.map((l) => String(l.errors)).join(' | ')} | | |`, '');
  out.push('Ratios are ours divided by the other: below 1 is better for times and commands, above 1 for rates.', '');
  return `${out.join('\n')}\n`;
}
