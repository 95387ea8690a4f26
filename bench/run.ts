// `npm run bench`: nestjs-redlock against the other Node lock libraries and a raw floor, in one
// interleaved run on local redis-server nodes. A benchmark, not a test: it asserts nothing.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, type } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { distribution } from '../soak/stats.js';
import { startRedisNodes } from '../test/support/redis-nodes.js';
import type { RedisNodes } from '../test/support/redis-nodes.js';
import { LIBRARIES } from './libraries.js';
import type { Contender, Pacing } from './libraries.js';
import { renderBenchReport } from './report.js';
import type { BenchResult, LibraryFigures } from './report.js';
import { contention, herd, manyHeld, throughput, uncontended } from './scenarios.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    json: { type: 'string' },
    report: { type: 'string' },
    only: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(`npm run bench -- [--quick] [--json FILE] [--report FILE]
  --quick     about a minute: fewer iterations, shorter phases (a smoke run, not figures to quote)
  --json      where to write every figure (default .tmp/bench.json)
  --report    the Markdown report (default docs/bench-report.md; .tmp/bench-report.md with --quick)
  --only      comma-separated scenarios to run (uncontended, throughput, contention, fair, herd, held),
              for working on one figure; the report then goes to .tmp/ unless --report says otherwise
`);
  process.exit(0);
}
const quick = values.quick === true;
const SCENARIOS = ['uncontended', 'throughput', 'contention', 'fair', 'herd', 'held'] as const;
const only = values.only?.split(',').map((s) => s.trim());
const unknown = only?.filter((s) => !(SCENARIOS as readonly string[]).includes(s)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(`--only: unknown scenario ${unknown.join(', ')} (known: ${SCENARIOS.join(', ')})\n`);
  process.exit(2);
}
const runs = (scenario: (typeof SCENARIOS)[number]) => only === undefined || only.includes(scenario);
const jsonPath = values.json ?? '.tmp/bench.json';
const reportPath = values.report ?? (quick || only ? '.tmp/bench-report.md' : 'docs/bench-report.md');
const size = quick
  ? { uncontended: 300, reps: 3, throughputMs: 2_000, contentionMs: 3_000, waiters: 256, manyKeys: 2_000 }
  : { uncontended: 2_000, reps: 5, throughputMs: 10_000, contentionMs: 10_000, waiters: 256, manyKeys: 10_000 };
const PACING: Pacing = { ttl: 10_000, wait: 10_000, retryDelay: 20, retryJitter: 10 };
const log = (line: string) => process.stderr.write(`${line}\n`);
const directUrls = (set: RedisNodes) => set.nodes.map((n) => `redis://127.0.0.1:${n.directPort}`);

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = loadavg();
  const five = await startRedisNodes(5, { persist: false });
  const one = await startRedisNodes(1, { persist: false });
  const admins = five.nodes.map((n) => new Redis({ port: n.directPort }));
  const figures = new Map<string, LibraryFigures>(LIBRARIES.map((l) => [l.name, { name: l.name, version: '', errors: 0 } as LibraryFigures]));
  const open: Contender[] = [];
  try {
    const onFive = LIBRARIES.map((l) => l.make(directUrls(five), PACING));
    const onOne = LIBRARIES.map((l) => l.make(directUrls(one), PACING));
    open.push(...onFive, ...onOne);
    for (const lib of onFive) figures.get(lib.name)!.version = lib.version;
    for (const lib of [...onFive, ...onOne]) await uncontended(lib, 50, `warm:${lib.name}`);

    for (const [label, libs] of runs('uncontended') ? ([['n1', onOne], ['n5', onFive]] as const) : []) {
      const samples = new Map<string, number[]>(libs.map((l) => [l.name, []]));
      for (let rep = 0; rep < size.reps; rep++) {
        for (const lib of libs) samples.get(lib.name)!.push(...(await uncontended(lib, Math.ceil(size.uncontended / size.reps), `${label}:${rep}`)));
      }
      for (const lib of libs) {
        const f = figures.get(lib.name)!;
        const d = distribution(samples.get(lib.name)!);
        if (label === 'n1') f.uncontendedN1 = d;
        else f.uncontendedN5 = d;
        log(`uncontended ${label}: ${lib.name.padEnd(24)} p50 ${d.p50.toFixed(2)} ms, p99 ${d.p99.toFixed(2)} ms (${d.count})`);
      }
    }

    const cycles = new Map<string, { cycles: number; ms: number; errors: number }>();
    for (let rep = 0; rep < (runs('throughput') ? 2 : 0); rep++) {
      for (const lib of onFive) {
        const r = await throughput(lib, 64, size.throughputMs / 2, `${rep}`);
        const sum = cycles.get(lib.name) ?? { cycles: 0, ms: 0, errors: 0 };
        cycles.set(lib.name, { cycles: sum.cycles + r.cycles, ms: sum.ms + r.ms, errors: sum.errors + r.errors });
      }
    }
    for (const lib of runs('throughput') ? onFive : []) {
      const c = cycles.get(lib.name)!;
      const f = figures.get(lib.name)!;
      f.throughput = (c.cycles * 1_000) / c.ms;
      f.errors += c.errors;
      log(`throughput: ${lib.name.padEnd(24)} ${f.throughput.toFixed(0)} cycles/s (64 loops, distinct keys)`);
    }

    for (const lib of runs('contention') ? onFive : []) {
      const r = await contention(lib, admins, 16, 2, size.contentionMs, `hot:${lib.name}`);
      const f = figures.get(lib.name)!;
      f.contention = r;
      f.errors += r.errors;
      log(`contention: ${lib.name.padEnd(24)} ${r.sectionsPerSecond.toFixed(0)} sections/s, handoff p50 ${r.handoffToOther.p50.toFixed(1)} / p99 ${r.handoffToOther.p99.toFixed(1)} ms, longest wait ${r.longestWaitMs.toFixed(0)} ms, won back ${(r.wonBack * 100).toFixed(0)} %, ${r.requestsPerSection.toFixed(1)} requests (${r.commandsPerSection.toFixed(1)} commands)/section`);
    }

    for (const lib of runs('fair') ? onFive : []) {
      if (!lib.lockFair) continue;
      const r = await contention({ ...lib, lock: lib.lockFair }, admins, 16, 2, size.contentionMs, `fair:${lib.name}`);
      const f = figures.get(lib.name)!;
      f.fairContention = r;
      f.errors += r.errors;
      log(`contention, fair: ${lib.name.padEnd(18)} ${r.sectionsPerSecond.toFixed(0)} sections/s, handoff p50 ${r.handoffToOther.p50.toFixed(1)} / p99 ${r.handoffToOther.p99.toFixed(1)} ms, longest wait ${r.longestWaitMs.toFixed(0)} ms, won back ${(r.wonBack * 100).toFixed(0)} %, ${r.requestsPerSection.toFixed(1)} requests (${r.commandsPerSection.toFixed(1)} commands)/section`);
    }

    for (const lib of runs('herd') ? onFive : []) {
      const r = await herd(lib, admins, size.waiters, `herd:${lib.name}`);
      const f = figures.get(lib.name)!;
      f.herd = r;
      f.errors += r.errors;
      log(`${size.waiters} waiters: ${lib.name.padEnd(24)} ${r.ms.toFixed(0)} ms for ${r.served}, ${r.requestsPerHandoff.toFixed(1)} requests (${r.commandsPerHandoff.toFixed(1)} commands)/handoff, ${r.errors} failed`);
    }

    for (const lib of runs('held') ? onFive : []) {
      const r = await manyHeld(lib, size.manyKeys, 100, lib.name);
      const f = figures.get(lib.name)!;
      f.manyHeld = r;
      log(`${size.manyKeys} keys held: ${lib.name.padEnd(24)} taken in ${r.acquireMs.toFixed(0)} ms, released in ${r.releaseMs.toFixed(0)} ms, ${r.errors} not taken`);
    }
  } finally {
    await Promise.all(open.map((l) => l.close().catch(() => undefined)));
    for (const admin of admins) admin.disconnect();
    await Promise.all([five.stop(), one.stop()]);
  }

  const result: BenchResult = {
    command: `npm run bench${quick || only ? ' --' : ''}${quick ? ' --quick' : ''}${only ? ` --only ${only.join(',')}` : ''}`,
    date: startedAt.toISOString(),
    machine: machine(),
    loadAverage: { before: loadBefore, after: loadavg() },
    pacing: PACING,
    quick,
    libraries: [...figures.values()],
  };
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
  mkdirSync(dirname(reportPath), { recursive: true });
  writeFileSync(reportPath, renderBenchReport(result));
  log(`\nfigures: ${jsonPath}, report: ${reportPath}`);
}

function machine(): string {
  let redis = 'redis-server ?';
  try {
    redis = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ');
  } catch {
    // reported as unknown
  }
  return `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${type()} ${release()}, Node ${process.version}, ${redis}, ioredis ${(JSON.parse(execFileSync('node', ['-p', 'JSON.stringify(require("ioredis/package.json"))'], { encoding: 'utf8' })) as { version: string }).version}`;
}

await main();
