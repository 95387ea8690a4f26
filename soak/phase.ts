import { setTimeout as sleep } from 'node:timers/promises';
import { Redlock } from '../lib/core/index.js';
import { machineNow } from '../test/support/overlap-checker.js';
import { startRedisNodes } from '../test/support/redis-nodes.js';
import type { RedisNodes } from '../test/support/redis-nodes.js';
import { Chaos } from './chaos.js';
import type { ChaosPlan, FairLines, FaultEvent } from './chaos.js';
import { check } from './checker.js';
import type { CheckResult, FairDrain } from './checker.js';
import { onInterrupt } from './cleanup.js';
import { ContenderPool } from './contenders.js';
import type { Collected, ContenderExit } from './contenders.js';
import type { ContenderConfig } from './protocol.js';
import { judge } from './verdict.js';
import type { Verdict } from './verdict.js';

import type { AmnesiaFault } from './chaos.js';

/** The chaos soak, or one of the rule-15 scenarios (a node that loses acknowledged lock writes). */
export type Scenario = 'chaos' | AmnesiaFault;

/** One soak phase: its own fresh nodes, contenders and chaos. */
export interface PhaseSpec {
  readonly title: string;
  readonly scenario: Scenario;
  readonly nodes: number;
  /** Lock nodes with AOF + appendfsync always (durable) or without any persistence. */
  readonly persist: boolean;
  /** The clients' connections go through proxies that keep them open when a node restarts. */
  readonly stickyProxies?: boolean;
  readonly restartGuard: boolean | undefined;
  readonly durationMs: number;
  readonly processes: number;
  readonly contender: Omit<ContenderConfig, 'proc' | 'lockUrls' | 'dataUrl' | 'seed' | 'restartGuard'>;
  readonly chaos: ChaosPlan;
  readonly hangBoundMs: number;
  readonly settleMs: number;
  /** The unguarded hazard run: overlaps are the expected demonstration, not a failure. */
  readonly expectOverlaps: boolean;
  readonly seed: number;
}

export interface PhaseResult {
  readonly spec: PhaseSpec;
  /** Machine ms when the contenders were started (fault times in the report count from here). */
  readonly startedAt: number;
  readonly wallMs: number;
  readonly faults: readonly FaultEvent[];
  readonly exits: readonly ContenderExit[];
  readonly check: CheckResult;
  readonly verdict: Verdict;
  /** Everything the contenders reported, for --raw. */
  readonly collected: Collected;
}

const PROGRESS_EVERY_MS = 15_000;

export async function runPhase(spec: PhaseSpec, random: () => number, log: (line: string) => void): Promise<PhaseResult> {
  const wallStart = machineNow();
  const lockNodes = await startRedisNodes(spec.nodes, { persist: spec.persist });
  // Unregistered once this phase has cleaned up after itself.
  const registered = [onInterrupt(() => lockNodes.stop())];
  let dataNodes: RedisNodes | undefined;
  let pool: ContenderPool | undefined;
  try {
    // The counters live in a separate Redis that no fault touches.
    dataNodes = await startRedisNodes(1, { persist: false });
    const data = dataNodes;
    registered.push(onInterrupt(() => data.stop()));
    const dataUrl = `redis://127.0.0.1:${dataNodes.nodes[0].directPort}`;
    if (spec.stickyProxies) for (const node of lockNodes.nodes) node.proxy.keepClientsOnServerLoss(true);

    pool = new ContenderPool(
      Array.from({ length: spec.processes }, (_, proc) => ({
        ...spec.contender,
        proc,
        lockUrls: lockNodes.urls(),
        dataUrl,
        restartGuard: spec.restartGuard,
        seed: (spec.seed + 7_919 * (proc + 1)) >>> 0,
      })),
    );
    const runningPool = pool;
    registered.push(onInterrupt(() => runningPool.kill()));
    const startedAt = machineNow();
    const since = (t: number) => `${((t - startedAt) / 1000).toFixed(1).padStart(6)} s`;
    const phaseLog = (line: string) => log(`[${since(machineNow())}] ${line}`);

    const fairLines = fairLinesOf(spec, lockNodes.urls());
    const chaos = new Chaos(spec.chaos, { nodes: lockNodes.nodes, fairLines, pool, random, log: phaseLog });
    registered.push(onInterrupt(async () => chaos.stop()));
    const chaosDone = chaos.run(spec.durationMs);
    const progress = setInterval(() => {
      const { sections, acquires } = runningPool.collected;
      phaseLog(`progress: ${sections.length} critical sections, ${acquires.length} acquire calls, ${chaos.events.length} faults`);
    }, PROGRESS_EVERY_MS);
    await sleep(Math.max(0, startedAt + spec.durationMs - machineNow()));
    clearInterval(progress);
    chaos.stop();
    await chaosDone;

    phaseLog('stopping contenders');
    const { longHoldMs, holdMs, wait } = spec.contender;
    const exits = await pool.stop(wait + Math.max(longHoldMs[1], holdMs[1]) + spec.hangBoundMs + 10_000);
    const counters = await readCounters(dataNodes);
    const fairDrain = fairLines ? await drainFairLines(fairLines, phaseLog) : undefined;
    const result = check({
      collected: pool.collected,
      exits,
      faults: chaos.events,
      plannedKinds: spec.chaos.kinds,
      chaosFailures: chaos.failures,
      counters,
      ttl: spec.contender.ttl,
      wait,
      hangBoundMs: spec.hangBoundMs,
      settleMs: spec.settleMs,
      workloads: spec.contender.workloads,
      limit: spec.contender.limit,
      fairDrain,
    });
    return {
      spec,
      startedAt,
      wallMs: machineNow() - wallStart,
      faults: chaos.events,
      exits,
      check: result,
      verdict: judge(result, spec.expectOverlaps, spec.chaos.pauseFencedHolders === true),
      collected: pool.collected,
    };
  } finally {
    await pool?.kill();
    await dataNodes?.stop();
    await lockNodes.stop();
    for (const unregister of registered) unregister();
  }
}

/** The fair workload's hot keys, where kill-waiter's process stands in line. */
function fairLinesOf(spec: PhaseSpec, lockUrls: readonly string[]): FairLines | undefined {
  const { workloads, hotKeys, ttl } = spec.contender;
  if (!workloads.includes('fair') || hotKeys === 0) return undefined;
  return { lockUrls, keys: Array.from({ length: hotKeys }, (_, i) => `fair:hot:${i}`), ttl, restartGuard: spec.restartGuard };
}

/**
 * No stuck line: once the contenders are gone, a fair acquire of each hot key must be granted.
 * Places of waiters that were killed or frozen lapse on their own (a few seconds), so the wait
 * here is generous; a line that still refuses after it is stuck.
 */
async function drainFairLines(lines: FairLines, log: (line: string) => void): Promise<FairDrain[]> {
  const redlock = new Redlock([...lines.lockUrls], { ttl: lines.ttl, ...(lines.restartGuard === false ? { restartGuard: false } : {}) });
  try {
    const drained = await Promise.all(
      lines.keys.map(async (key): Promise<FairDrain> => {
        const started = machineNow();
        try {
          const lock = await redlock.acquire(key, { fair: true, wait: 15_000 });
          await lock.release();
          return { key, granted: true, ms: machineNow() - started };
        } catch (error) {
          return { key, granted: false, ms: machineNow() - started, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    log(`fair lines after the run: ${drained.map((d) => `${d.key} ${d.granted ? `granted in ${Math.round(d.ms)} ms` : `REFUSED (${d.error})`}`).join(', ')}`);
    return drained;
  } finally {
    await redlock.quit();
  }
}

/** Every `counter:<key>` of the data store, by lock key. */
async function readCounters(dataNodes: RedisNodes): Promise<Map<string, number>> {
  const client = dataNodes.nodes[0].client();
  const counters = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', 'counter:*', 'COUNT', 1_000);
    cursor = next;
    if (keys.length === 0) continue;
    const values = await client.mget(...keys);
    keys.forEach((key, i) => counters.set(key.slice('counter:'.length), Number(values[i])));
  } while (cursor !== '0');
  client.disconnect();
  return counters;
}
