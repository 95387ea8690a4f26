import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { guardChild } from '../test/support/orphan-guard.js';
import { machineNow } from '../test/support/overlap-checker.js';
import type { RedisNode } from '../test/support/redis-nodes.js';
import type { ContenderPool } from './contenders.js';
import { between, pick, shuffle } from './random.js';

/** The faults of issue 4, plus the hazards of rule 15 (a node that loses acknowledged lock writes). */
export const FAULT_KINDS = [
  'kill-node', 'pause-node', 'slow-node', 'pause-contender', 'majority-down', 'kill-waiter',
  'empty-restart', 'flushall', 'proxied-restart', 'snapshot-restart', 'replaced-node',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The faults a durable cluster must survive; the others are the amnesia scenarios' own. */
export const SURVIVABLE_FAULTS: readonly FaultKind[] = ['kill-node', 'pause-node', 'slow-node', 'pause-contender', 'majority-down'];

/** Faults that only mean something when contenders take fair locks (the fair workload). */
export const FAIR_FAULTS: readonly FaultKind[] = ['kill-waiter'];

/** Rule 15: ways a lock node forgets locks it granted. Each is a scenario of its own. */
export const AMNESIA_FAULTS = ['empty-restart', 'flushall', 'proxied-restart', 'snapshot-restart', 'replaced-node'] as const;
export type AmnesiaFault = (typeof AMNESIA_FAULTS)[number];

export const FAULT_LABELS: Record<FaultKind, string> = {
  'kill-node': 'kill -9 a lock node, restart it with AOF (appendfsync always)',
  'pause-node': 'SIGSTOP a lock node for longer than the ttl',
  'slow-node': 'latency above the per-node timeout on one node, then its connections dropped',
  'pause-contender': 'SIGSTOP a contender process for longer than its ttl',
  'majority-down': 'a majority of lock nodes down (kill -9), then restarted with AOF',
  'kill-waiter': 'kill -9 a process standing in the fair lines of the hot keys (its places must lapse)',
  'empty-restart': 'restart a lock node without persistence (it comes back empty)',
  flushall: 'FLUSHALL on a lock node (same process, same connections)',
  'proxied-restart': 'restart a lock node empty behind a proxy that keeps the clients\' connections open',
  'snapshot-restart': 'restart a lock node from an RDB snapshot taken a moment before (later writes lost)',
  'replaced-node': 'replace a durable lock node (AOF) by an empty one (a new disk)',
};

/** One fault as it happened, in machine ms (process.hrtime). */
export interface FaultEvent {
  readonly kind: FaultKind;
  /** Lock node indexes the fault hit (node faults). */
  readonly nodes: readonly number[];
  /** The contender process it froze (pause-contender). */
  readonly proc: number | undefined;
  readonly startedAt: number;
  /** When undoing the fault began (restart / resume / proxy reset). */
  liftedAt: number;
  /** When the fault was fully undone (node answering again / resumed / proxy reset). */
  endedAt: number;
  readonly detail: string;
}

export interface ChaosTimings {
  readonly killDownMs: number;
  readonly nodePauseMs: number;
  readonly slowMs: number;
  readonly latencyMs: number;
  readonly contenderPauseMs: number;
  readonly majorityDownMs: number;
}

/** Durations follow the lease: "longer than the ttl" must hold whatever --ttl says. */
export function timingsFor(ttl: number): ChaosTimings {
  return {
    killDownMs: 1_000,
    nodePauseMs: Math.round(1.5 * ttl + 500),
    slowMs: Math.max(ttl, 2_000),
    // Above the engine's default per-node timeout (5 % of the ttl, clamped to 50..500 ms).
    latencyMs: Math.max(4 * Math.min(Math.max(Math.round(ttl * 0.05), 50), 500), 200),
    contenderPauseMs: 2 * ttl + 500,
    majorityDownMs: 3_000,
  };
}

export interface ChaosPlan {
  readonly kinds: readonly FaultKind[];
  readonly warmupMs: number;
  /** Quiet time kept at the end, so the last fault's effects settle before the stop. */
  readonly cooldownMs: number;
  /** Quiet time between two faults. */
  readonly gapMs: readonly [number, number];
  /** Stop after this many rounds (each round = every kind once); Infinity = until time is up. */
  readonly rounds: number;
  /**
   * Faults in bursts: `size` faults `gapMs` apart, then the plan's own gap. A burst of empty
   * restarts is a rolling restart done faster than the lease, the way rule 15 bites in practice.
   */
  readonly burst?: { readonly size: number; readonly gapMs: readonly [number, number] };
  readonly timings: ChaosTimings;
  /**
   * pause-contender freezes a process holding a long fenced lock (the fenced workload: its late
   * write must meet the store's fence), not just any long lock.
   */
  readonly pauseFencedHolders?: boolean;
}

/** Where kill-waiter's process stands in line: the fair workload's hot keys on the lock nodes. */
export interface FairLines {
  readonly lockUrls: readonly string[];
  readonly keys: readonly string[];
  readonly ttl: number;
  readonly restartGuard: boolean | undefined;
}

export interface ChaosTarget {
  readonly nodes: readonly RedisNode[];
  /** Required by kill-waiter. */
  readonly fairLines?: FairLines;
  readonly pool: ContenderPool;
  readonly random: () => number;
  readonly log: (line: string) => void;
}

/** How old the snapshot a node restarts from is: locks taken meanwhile are lost. */
const SNAPSHOT_AGE_MS: readonly [number, number] = [400, 700];

/** How long kill-waiter's process stands in line before it is killed. */
const IN_LINE_MS: readonly [number, number] = [300, 900];

const LINE_STANDER = fileURLToPath(new URL('./line-stander.ts', import.meta.url));
const REGISTER = fileURLToPath(new URL('../tools/ts-register.mjs', import.meta.url));

/** How long pause-contender waits for a process that holds a long lock. */
const LONG_HOLDER_WAIT_MS = 3_000;

/** Rough length of one fault, to decide whether another one still fits in the run. */
export function faultLengthMs(kind: FaultKind, t: ChaosTimings): number {
  switch (kind) {
    case 'kill-node':
      return t.killDownMs + 300;
    case 'pause-node':
      return t.nodePauseMs;
    case 'slow-node':
      return t.slowMs + 500;
    case 'pause-contender':
      return t.contenderPauseMs + 500;
    case 'majority-down':
      return t.majorityDownMs + 500;
    case 'kill-waiter':
      return IN_LINE_MS[1] + 3_000;
    case 'empty-restart':
    case 'flushall':
    case 'proxied-restart':
    case 'replaced-node':
      return 200;
    case 'snapshot-restart':
      return SNAPSHOT_AGE_MS[1] + 200;
  }
}

/**
 * Runs faults one at a time (so each effect can be attributed to one fault), in rounds that each
 * contain every enabled kind once in a random order, until the next one would not fit. Every fault
 * is undone before the next starts, even when the run is stopped early.
 */
export class Chaos {
  readonly events: FaultEvent[] = [];
  readonly failures: string[] = [];
  private stopped = false;
  private wake: (() => void) | undefined;
  private injected = 0;
  /** The node that lost its data last time: the next one is another (a rolling restart). */
  private lastAmnesiac: RedisNode | undefined;

  constructor(
    private readonly plan: ChaosPlan,
    private readonly target: ChaosTarget,
  ) {}

  /** Minimum duration for every enabled kind to happen once. */
  static minimumMs(plan: ChaosPlan): number {
    const faults = plan.kinds.reduce((sum, kind) => sum + faultLengthMs(kind, plan.timings) + plan.gapMs[1], 0);
    return plan.warmupMs + faults + plan.cooldownMs;
  }

  async run(durationMs: number): Promise<void> {
    const endAt = machineNow() + durationMs;
    await this.sleep(this.plan.warmupMs);
    if (this.plan.kinds.length === 0) return; // --chaos none: a baseline run
    const { random } = this.target;
    for (let round = 0; round < this.plan.rounds && !this.stopped; round++) {
      for (const kind of shuffle(random, this.plan.kinds)) {
        const left = endAt - machineNow();
        if (this.stopped || left < faultLengthMs(kind, this.plan.timings) + this.plan.cooldownMs) return;
        try {
          await this.inject(kind);
        } catch (error) {
          this.failures.push(`${kind}: ${error instanceof Error ? error.message : String(error)}`);
          this.target.log(`chaos: ${kind} failed: ${String(error)}`);
        }
        this.injected += 1;
        const { burst } = this.plan;
        const gap = burst && this.injected % burst.size !== 0 ? burst.gapMs : this.plan.gapMs;
        await this.sleep(Math.min(between(random, gap), Math.max(0, endAt - machineNow() - this.plan.cooldownMs)));
      }
    }
  }

  /** Cut the current wait short; the fault under way is still undone. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async inject(kind: FaultKind): Promise<void> {
    const { nodes, pool, random, log } = this.target;
    const t = this.plan.timings;
    const node = pick(random, nodes);
    const start = (detail: string, nodeIndexes: readonly number[], proc?: number): FaultEvent => {
      const event: FaultEvent = { kind, nodes: nodeIndexes, proc, startedAt: machineNow(), liftedAt: Number.NaN, endedAt: Number.NaN, detail };
      this.events.push(event);
      log(`chaos: ${detail}`);
      return event;
    };
    const lift = (event: FaultEvent) => {
      event.liftedAt = machineNow();
    };
    const end = (event: FaultEvent) => {
      event.endedAt = machineNow();
      log(`chaos: ${kind} over after ${((event.endedAt - event.startedAt) / 1000).toFixed(2)} s`);
    };

    switch (kind) {
      case 'kill-node': {
        const event = start(`kill -9 node ${node.index}`, [node.index]);
        try {
          await node.kill();
          await this.sleep(t.killDownMs);
        } finally {
          lift(event);
          await node.restart({ persist: true });
          end(event);
        }
        return;
      }
      case 'pause-node': {
        const event = start(`SIGSTOP node ${node.index} for ${t.nodePauseMs} ms`, [node.index]);
        try {
          node.pause();
          await this.sleep(t.nodePauseMs);
        } finally {
          lift(event);
          node.resume();
          end(event);
        }
        return;
      }
      case 'slow-node': {
        const event = start(`${t.latencyMs} ms latency on node ${node.index}, connections dropped halfway`, [node.index]);
        try {
          node.proxy.setLatency(t.latencyMs);
          await this.sleep(t.slowMs / 2);
          node.proxy.dropConnections();
          await this.sleep(t.slowMs / 2);
        } finally {
          lift(event);
          node.proxy.reset();
          end(event);
        }
        return;
      }
      case 'pause-contender': {
        // Freeze a process while it holds an auto-extended lock, so the pause always outlives a
        // held lease (give up waiting after a while and take any process). In the fenced
        // workload, one that holds a long fenced lock: it is mid-section, and writes when it wakes.
        const fenced = this.plan.pauseFencedHolders === true;
        let holders = pool.holdingLong(fenced);
        for (let waited = 0; holders.length === 0 && waited < LONG_HOLDER_WAIT_MS && !this.stopped; waited += 50) {
          await this.sleep(50);
          holders = pool.holdingLong(fenced);
        }
        const proc = holders.length > 0 ? pick(random, holders) : Math.floor(random() * pool.size);
        const why = holders.length > 0 ? `while it holds an auto-extended ${fenced ? 'fenced ' : ''}lock` : `no long ${fenced ? 'fenced ' : ''}lock seen, any process`;
        const event = start(`SIGSTOP contender p${proc} (pid ${pool.pid(proc)}) for ${t.contenderPauseMs} ms, ${why}`, [], proc);
        try {
          pool.pause(proc);
          await this.sleep(t.contenderPauseMs);
        } finally {
          lift(event);
          pool.resume(proc);
          end(event);
        }
        return;
      }
      case 'kill-waiter': {
        const lines = this.target.fairLines;
        if (!lines) throw new Error('kill-waiter needs the fair workload (no fair lines to stand in)');
        const stander = fork(LINE_STANDER, [JSON.stringify(lines)], { execArgv: ['--import', REGISTER], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        guardChild(stander);
        const exited = new Promise((resolve) => stander.once('exit', resolve));
        try {
          // Killed only once it stands in line (its first attempts done), or after a few seconds anyway.
          await Promise.race([new Promise((resolve) => stander.once('message', resolve)), exited, this.sleep(5_000)]);
          await this.sleep(between(random, IN_LINE_MS));
          const event = start(`kill -9 a waiter standing in the fair lines of ${lines.keys.join(', ')} (pid ${stander.pid})`, []);
          lift(event);
          stander.kill('SIGKILL');
          await exited;
          end(event);
        } finally {
          stander.kill('SIGKILL');
        }
        return;
      }
      case 'majority-down': {
        const majority = shuffle(random, nodes).slice(0, Math.floor(nodes.length / 2) + 1);
        const event = start(`kill -9 nodes ${majority.map((n) => n.index).join(', ')} (a majority) for ${t.majorityDownMs} ms`, majority.map((n) => n.index));
        try {
          await Promise.all(majority.map((n) => n.kill()));
          await this.sleep(t.majorityDownMs);
        } finally {
          lift(event);
          await Promise.all(majority.map((n) => n.restart({ persist: true })));
          end(event);
        }
        return;
      }
      case 'empty-restart':
      case 'flushall':
      case 'proxied-restart':
      case 'snapshot-restart':
      case 'replaced-node': {
        const next = pick(random, nodes.filter((n) => n !== this.lastAmnesiac));
        this.lastAmnesiac = next;
        if (kind === 'snapshot-restart') {
          await next.client().save();
          await this.sleep(between(random, SNAPSHOT_AGE_MS));
        }
        const event = start(`${FAULT_LABELS[kind].replace('a lock node', `node ${next.index}`)}`, [next.index]);
        try {
          if (kind === 'flushall') await next.flush();
          else if (kind === 'snapshot-restart') await next.restart({ data: 'snapshot' });
          else if (kind === 'replaced-node') await next.restart({ persist: true, data: 'wiped' });
          else await next.restart({ persist: false });
        } finally {
          lift(event);
          end(event);
        }
        return;
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
