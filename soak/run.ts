// `npm run soak`: the fault-injection soak of issue 4. Runs each phase (fresh nodes, contender
// processes, chaos), checks it independently of the engine, prints a Markdown report and writes
// it to --report. Exit code: 0 pass, 1 a check failed, 2 the unguarded hazard run showed nothing,
// 64 bad usage, 130/143 interrupted.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, type } from 'node:os';
import { dirname } from 'node:path';
import process from 'node:process';
import { machineNow } from '../test/support/overlap-checker.js';
import { Chaos } from './chaos.js';
import { installInterruptHandler, wasInterrupted } from './cleanup.js';
import { HELP, planFromArgs, UsageError } from './options.js';
import type { RunPlan } from './options.js';
import { runPhase } from './phase.js';
import type { PhaseResult } from './phase.js';
import { seededRandom } from './random.js';
import { renderReport } from './report.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

function machine(): string {
  const cores = cpus();
  let redis = 'redis-server ?';
  try {
    redis = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ');
  } catch {
    // reported as unknown
  }
  return `${cores.length} cores (${cores[0]?.model.trim() ?? 'unknown CPU'}), ${type()} ${release()}, Node ${process.version}, ${redis}`;
}

/** Which engine was soaked: the last commit that touched lib/core, and whether it has local changes. */
function engineVersion(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git('log', '-1', '--format=%h %s', '--', 'lib/core');
    const dirty = git('status', '--porcelain', '--', 'lib/core') !== '';
    return `lib/core as of ${commit}${dirty ? ' (plus uncommitted changes)' : ''}`;
  } catch {
    return 'lib/core (no git information)';
  }
}

function overallStatus(phases: readonly PhaseResult[]): { text: string; exitCode: number } {
  if (phases.some((p) => p.verdict.status === 'fail')) return { text: 'FAIL', exitCode: 1 };
  if (phases.some((p) => p.verdict.status === 'not-demonstrated')) return { text: 'hazard NOT demonstrated', exitCode: 2 };
  if (phases.some((p) => p.verdict.status === 'demonstrated')) return { text: 'PASS (the unguarded run shows the hazard, as expected)', exitCode: 0 };
  return { text: 'PASS', exitCode: 0 };
}

async function main(): Promise<number> {
  let plan: RunPlan | 'help';
  try {
    plan = planFromArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) throw error;
    log(`${(error as Error).message}\n\n${HELP}`);
    return 64;
  }
  if (plan === 'help') {
    log(HELP);
    return 0;
  }
  for (const phase of plan.phases) {
    const needed = Chaos.minimumMs(phase.chaos);
    if (phase.durationMs < needed) {
      log(`--duration ${phase.durationMs / 1000} s is too short for every fault kind of "${phase.scenario}" to happen once: at least ${Math.ceil(needed / 1000)} s`);
      return 64;
    }
  }

  installInterruptHandler(log);
  // Contenders load lib/core when they start: name the engine as it was then, and say so if it
  // changed while the soak ran (the report would otherwise describe code that was not soaked).
  const engineAtStart = engineVersion();
  const started = machineNow();
  const date = new Date().toISOString();
  const random = seededRandom(plan.seed);
  const results: PhaseResult[] = [];
  log(`soak: ${plan.phases.length} phase(s), seed ${plan.seed}, report ${plan.reportPath}`);
  for (const [i, phase] of plan.phases.entries()) {
    log(`\nsoak: phase ${i + 1}/${plan.phases.length}: ${phase.title}`);
    results.push(await runPhase(phase, random, log));
    const last = results[results.length - 1];
    log(`soak: phase ${i + 1} ${last.verdict.status}${last.verdict.failures.length ? `: ${last.verdict.failures.join('; ')}` : ''}`);
  }

  const status = overallStatus(results);
  const report = renderReport(
    {
      command: `npm run soak${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      date,
      machine: machine(),
      engine: engineVersion() === engineAtStart ? engineAtStart : `${engineAtStart} — CHANGED during the run, now ${engineVersion()}`,
      seed: plan.seed,
      wallMs: machineNow() - started,
      status: status.text,
    },
    results,
  );
  process.stdout.write(`${report}\n`);
  mkdirSync(dirname(plan.reportPath), { recursive: true });
  writeFileSync(plan.reportPath, `${report}\n`);
  if (plan.rawPath) {
    mkdirSync(dirname(plan.rawPath), { recursive: true });
    const raw = results.map((r) => ({ title: r.spec.title, startedAt: r.startedAt, faults: r.faults, exits: r.exits, ...r.collected }));
    writeFileSync(plan.rawPath, JSON.stringify(raw));
  }
  log(`soak: report written to ${plan.reportPath}; ${status.text}`);
  return status.exitCode;
}

// The orchestrator is held to the same rule as the contenders: an unhandled rejection fails the run.
let orchestratorFailed = false;
process.on('unhandledRejection', (reason) => {
  log(`soak: unhandled rejection in the orchestrator: ${String(reason)}`);
  orchestratorFailed = true;
});

main().then(
  (code) => {
    if (!wasInterrupted()) process.exit(orchestratorFailed && code !== 64 ? 1 : code);
  },
  (error: unknown) => {
    log(`soak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    if (!wasInterrupted()) process.exit(1);
  },
);
