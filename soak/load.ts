/**
 * Load and leak run (issue 4, "Leaks and load"): one process, its own redis-server nodes.
 *
 *   node --expose-gc --import ./tools/ts-register.mjs soak/load.ts [options]
 *
 * Phase 1: `--cycles` acquire/release cycles from `--concurrency` parallel loops, each loop on
 *          its own rotating keys (no contention: this measures the engine, not the back-off).
 * Phase 2: `--holds` locks held at once with auto-extension (ttl `--ttl`, held `--hold-ms`
 *          after the last one was acquired), none may be lost; then all are released.
 * Phase 3: `--waiters` acquires arriving at once on 4 keys (2 of them fair), each holding 1 ms:
 *          everyone is served through wake-ups; afterwards no wake channel is still subscribed,
 *          and after quit() every node has exactly the connections it had before the instance.
 * Between phases: heap after forced GC, the engine's pending timers (counting clock), ref'd
 * timers, with --track-timers every live Timeout (unref'd ones too), listener counts on the
 * ioredis clients and the instance's held-lock set. Event-loop delay is sampled during each phase.
 * Prints a Markdown report; exits 2 on bad options, 130 on Ctrl-C/SIGTERM and 1 if the heap did not come back within the margin, a timer
 * or listener remained, a lock stayed held, a held lock was lost or an operation failed.
 *
 * Options: see USAGE below, or run with --help. Results of a run: docs/load-report.md.
 */
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { Redlock } from '../lib/core/index.js';
import type { Lock } from '../lib/core/index.js';
import { startRedisNodes } from '../test/support/redis-nodes.js';
import type { RedisNodes } from '../test/support/redis-nodes.js';
import {
  activeResources,
  countingClock,
  deferredClock,
  heldLockCount,
  listenerDiff,
  listenerSnapshot,
  listenerTotal,
  LoopDelayProbe,
  MB,
  percentile,
  settledHeap,
  TimerTracker,
} from './load-probes.js';
import type { DelayFigures, ListenerSnapshot } from './load-probes.js';

const USAGE = `Usage: node --expose-gc --import ./tools/ts-register.mjs soak/load.ts [options]

  --nodes N            redis-server nodes (3)
  --cycles N           phase-1 acquire/release cycles (100000)
  --concurrency N      parallel loops in phase 1 and for the acquires/releases of phase 2 (100)
  --holds N            locks held at once in phase 2 (10000)
  --waiters N          phase-3 waiters arriving at once on 4 keys, half of them fair (256)
  --ttl MS             phase-2 lease (3000): auto-extension every ttl/3
  --hold-ms MS         how long all phase-2 locks are held (10000)
  --warmup N           warm-up cycles before the baseline (5000)
  --checkpoints N      heap checkpoints within phase 1 (5)
  --margin-mb MB       accepted heap growth over the baseline (5)
  --no-persist         nodes without AOF (default: AOF with appendfsync always)
  --via-proxy          connect through the in-process fault-injection proxies (default: direct)
  --track-timers       also track every Timeout, unref'd ones included, with async_hooks
                       (costs ~15 % of phase-1 throughput, so the figures are taken without it)
  --timer-stacks       with --track-timers: record where each live Timeout was created
  --json FILE          also write the figures as JSON
  --help               this text
Experiments (not measurements of the engine as it is):
  --deferred-timeouts  engine timers run their callback one setImmediate late (a proposed fix)
  --auto-pipelining    nodes given as ioredis options with enableAutoPipelining: true
`;

function parseOptions() {
  try {
    return parseArgs({
      options: {
        nodes: { type: 'string', default: '3' },
        cycles: { type: 'string', default: '100000' },
        concurrency: { type: 'string', default: '100' },
        holds: { type: 'string', default: '10000' },
        waiters: { type: 'string', default: '256' },
        ttl: { type: 'string', default: '3000' },
        'hold-ms': { type: 'string', default: '10000' },
        warmup: { type: 'string', default: '5000' },
        checkpoints: { type: 'string', default: '5' },
        'margin-mb': { type: 'string', default: '5' },
        'no-persist': { type: 'boolean', default: false },
        'via-proxy': { type: 'boolean', default: false },
        'auto-pipelining': { type: 'boolean', default: false },
        'deferred-timeouts': { type: 'boolean', default: false },
        'track-timers': { type: 'boolean', default: false },
        'timer-stacks': { type: 'boolean', default: false },
        json: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

const { values: args } = parseOptions();
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

function positive(name: string, raw: string | undefined, allowZero = false): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    console.error(`--${name}: expected a ${allowZero ? 'non-negative' : 'positive'} number, got ${raw}`);
    process.exit(2);
  }
  return n;
}

const config = {
  nodes: positive('nodes', args.nodes),
  cycles: positive('cycles', args.cycles, true),
  concurrency: positive('concurrency', args.concurrency),
  holds: positive('holds', args.holds, true),
  waiters: positive('waiters', args.waiters, true),
  ttl: positive('ttl', args.ttl),
  holdMs: positive('hold-ms', args['hold-ms'], true),
  warmup: positive('warmup', args.warmup, true),
  checkpoints: Math.max(1, positive('checkpoints', args.checkpoints)),
  marginMb: positive('margin-mb', args['margin-mb'], true),
  persist: !args['no-persist'],
  viaProxy: args['via-proxy'],
  autoPipelining: args['auto-pipelining'],
  deferredTimeouts: args['deferred-timeouts'],
  trackTimers: args['track-timers'] || args['timer-stacks'],
  timerStacks: args['timer-stacks'],
};

/** Phase-1 lease: long enough that no lock expires while held (a cycle takes a few ms). */
const CYCLE_TTL = 10_000;
/** Keys each phase-1 loop rotates over. */
const KEYS_PER_LOOP = 8;

// ---------------------------------------------------------------------------------------------

interface Stopwatch {
  wallMs: number;
  cpuPct: number;
}

function stopwatch(): () => Stopwatch {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  return () => {
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    return { wallMs, cpuPct: wallMs > 0 ? ((cpu.user + cpu.system) / 1_000 / wallMs) * 100 : 0 };
  };
}

interface LatencyFigures {
  p50: number;
  p99: number;
  max: number;
}

function latency(values: Float64Array, n: number): LatencyFigures {
  return { p50: percentile(values, n, 50), p99: percentile(values, n, 99), max: percentile(values, n, 100) };
}

interface Snapshot {
  label: string;
  heapMb: number;
  engineTimers: number;
  /** Live Timeout resources created since tracking began (async_hooks), or undefined. */
  timeouts: number | undefined;
  refTimeouts: number;
  listeners: ListenerSnapshot;
  held: number | undefined;
}

interface PhaseRow {
  phase: string;
  ops: number;
  time: Stopwatch;
  latency?: string;
  delay: DelayFigures;
  note?: string;
}

class ErrorTally {
  private readonly counts = new Map<string, number>();
  add(error: unknown, resource?: string): undefined {
    // Grouped by kind: the resource name and node addresses are blanked out of the message.
    let name = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (resource) name = name.split(resource).join('…');
    name = name.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, 'host:port').slice(0, 200);
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    return undefined;
  }
  get total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }
  summary(): string {
    return [...this.counts].map(([name, n]) => `${n}× ${name}`).join('; ');
  }
}

/** Runs `count` jobs on `concurrency` parallel loops; job(i) for i in [0, count). */
async function inParallel(count: number, concurrency: number, job: (i: number, loop: number) => Promise<void>): Promise<void> {
  let next = 0;
  const loop = async (id: number) => {
    for (let i = next++; i < count; i = next++) await job(i, id);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, (_, id) => loop(id)));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const int = (n: number) => Math.round(n).toLocaleString('en-US').replace(/,/g, ' ');

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

// ---------------------------------------------------------------------------------------------

let cluster: RedisNodes | undefined;
let interrupted = false;

async function shutdown(code: number): Promise<never> {
  await cluster?.stop();
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping the redis-server nodes…`);
    void shutdown(130);
  });
}

async function main(): Promise<number> {
  if (typeof globalThis.gc !== 'function') {
    console.error('Run with: node --expose-gc --import ./tools/ts-register.mjs soak/load.ts');
    return 2;
  }
  const startedAt = new Date();
  const tracker = config.trackTimers ? new TimerTracker(config.timerStacks).enable() : undefined;
  const baseRefTimeouts = activeResources().Timeout ?? 0;

  cluster = await startRedisNodes(config.nodes, { persist: config.persist });
  const addresses = cluster.nodes.map((n) => ({ host: n.host, port: config.viaProxy ? n.port : n.directPort }));
  const specs = config.autoPipelining
    ? addresses.map((a) => ({ ...a, enableAutoPipelining: true }))
    : addresses.map((a) => `redis://${a.host}:${a.port}`);
  // The nodes' own view of us: connections and subscribed channels, asked on one admin client each.
  const admins = cluster.nodes.map((n) => n.client());
  // CLIENT LIST: one line per connection, the admin's own among them.
  const connectionsOnNodes = () => Promise.all(admins.map(async (a) => String(await a.client('LIST')).trim().split('\n').length - 1));
  const wakeChannelsOnNodes = () => Promise.all(admins.map(async (a) => (await a.pubsub('CHANNELS', '*wake*')).length));
  const connectionsBefore = await connectionsOnNodes();
  const clock = countingClock(config.deferredTimeouts ? deferredClock() : undefined);
  const redlock = new Redlock(specs, { clock });
  const clients = redlock.clients;

  let lost = 0;
  let lostReasons = new ErrorTally();
  let releaseIncomplete = 0;
  let nodeDown = 0;
  redlock.on('lockLost', ({ error, resources }) => {
    lost += 1;
    lostReasons.add(error, resources[0]);
  });
  redlock.on('releaseIncomplete', () => {
    releaseIncomplete += 1;
  });
  redlock.on('nodeDown', () => {
    nodeDown += 1;
  });

  // Measurement buffers are allocated before the baseline, so they are part of it.
  const cycleLat = new Float64Array(config.cycles);
  const acquireLat = new Float64Array(config.cycles);
  const releaseLat = new Float64Array(config.cycles);
  const holdAcquireLat = new Float64Array(config.holds);
  const holdReleaseLat = new Float64Array(config.holds);
  let held: (Lock | undefined)[] = new Array<Lock | undefined>(config.holds).fill(undefined);
  const errors = new ErrorTally();
  const phases: PhaseRow[] = [];
  const snapshots: Snapshot[] = [];
  const probe = new LoopDelayProbe(10);

  const snapshot = async (label: string): Promise<Snapshot> => {
    const heap = await settledHeap();
    const s: Snapshot = {
      label,
      heapMb: heap / MB,
      engineTimers: clock.live(),
      timeouts: tracker?.count('Timeout'),
      refTimeouts: activeResources().Timeout ?? 0,
      listeners: listenerSnapshot(clients),
      held: heldLockCount(redlock),
    };
    snapshots.push(s);
    return s;
  };

  // --- connect: until the first lock is granted (fresh nodes count in the first round) ---
  const connecting = stopwatch();
  for (;;) {
    const lock = await redlock.tryAcquire('probe').catch(() => null);
    if (lock) {
      await lock.release();
      break;
    }
    if (connecting().wallMs > 30_000) throw new Error('the nodes did not accept a lock within 30 s');
    await sleep(200);
  }
  const connectMs = connecting().wallMs;

  // --- warm-up: the same code paths (cycles, auto-extended holds with one extension) ---
  // Failures here (a busy machine) are counted but do not fail the run: nothing is measured yet.
  const warm = stopwatch();
  const warmErrors = new ErrorTally();
  await inParallel(config.warmup, config.concurrency, async (i, loop) => {
    const key = `warm:${loop}:${i % KEYS_PER_LOOP}`;
    const lock = await redlock.acquire(key, { ttl: CYCLE_TTL }).catch((error: unknown) => warmErrors.add(error, key));
    await lock?.release();
  });
  const warmHolds = Math.min(500, config.holds);
  const warmLocks: Lock[] = [];
  await inParallel(warmHolds, config.concurrency, async (i) => {
    const key = `warmhold:${i}`;
    const lock = await redlock.acquire(key, { ttl: config.ttl, autoExtend: true }).catch((error: unknown) => warmErrors.add(error, key));
    if (lock) warmLocks.push(lock);
  });
  await sleep(config.ttl / 3 + 300); // one extension round
  await Promise.all(warmLocks.map((l) => l.release()));
  warmLocks.length = 0;
  const warmTime = warm();
  const lostInWarmUp = lost;
  const warmLostSummary = lostReasons.summary();
  lost = 0;
  lostReasons = new ErrorTally();
  const start = await snapshot('Start (after warm-up)');

  // --- phase 1: acquire/release cycles, heap checked at checkpoints ---
  const checkpointHeaps: { cycles: number; heapMb: number }[] = [{ cycles: 0, heapMb: start.heapMb }];
  let done = 0;
  let p1Wall = 0;
  let p1Cpu = 0;
  probe.start();
  for (let cp = 1; cp <= config.checkpoints; cp++) {
    const upTo = Math.round((config.cycles * cp) / config.checkpoints);
    const from = done;
    const block = stopwatch();
    await inParallel(upTo - from, config.concurrency, async (j, loop) => {
      const i = from + j;
      const key = `p1:${loop}:${i % KEYS_PER_LOOP}`;
      const t0 = performance.now();
      let lock: Lock;
      try {
        lock = await redlock.acquire(key, { ttl: CYCLE_TTL });
      } catch (error) {
        errors.add(error, key);
        return;
      }
      const t1 = performance.now();
      const result = await lock.release();
      const t2 = performance.now();
      if (!result.released) errors.add(new Error(`release reached ${result.nodes} nodes`));
      acquireLat[i] = t1 - t0;
      releaseLat[i] = t2 - t1;
      cycleLat[i] = t2 - t0;
    });
    const t = block();
    p1Wall += t.wallMs;
    p1Cpu += (t.cpuPct * t.wallMs) / 100;
    done = upTo;
    if (cp < config.checkpoints) {
      probe.pause();
      checkpointHeaps.push({ cycles: done, heapMb: (await settledHeap()) / MB });
      probe.resume();
    }
  }
  const p1Delay = probe.stop();
  phases.push({
    phase: `1: acquire + release, ${config.concurrency} loops`,
    ops: config.cycles,
    time: { wallMs: p1Wall, cpuPct: p1Wall > 0 ? (p1Cpu / p1Wall) * 100 : 0 },
    latency: `cycle ${fmt(percentile(cycleLat, config.cycles, 50), 2)} / ${fmt(percentile(cycleLat, config.cycles, 99), 2)} (acquire ${fmt(percentile(acquireLat, config.cycles, 50), 2)} / ${fmt(percentile(acquireLat, config.cycles, 99), 2)}, release ${fmt(percentile(releaseLat, config.cycles, 50), 2)} / ${fmt(percentile(releaseLat, config.cycles, 99), 2)})`,
    delay: p1Delay,
  });
  const afterP1 = await snapshot('After phase 1');
  checkpointHeaps.push({ cycles: done, heapMb: afterP1.heapMb });

  // --- phase 2: hold many locks at once with auto-extension ---
  const lostAtP2Start = lost;
  probe.start();
  const acq = stopwatch();
  await inParallel(config.holds, config.concurrency, async (i) => {
    const t0 = performance.now();
    try {
      held[i] = await redlock.acquire(`p2:${i}`, { ttl: config.ttl, autoExtend: true });
      holdAcquireLat[i] = performance.now() - t0;
    } catch (error) {
      errors.add(error, `p2:${i}`);
    }
  });
  const acqTime = acq();
  const acqDelay = probe.stop();
  const acquiredHolds = held.filter((l) => l !== undefined).length;
  phases.push({
    phase: `2a: acquire ${int(config.holds)} auto-extended (ttl ${config.ttl} ms)`,
    ops: acquiredHolds,
    time: acqTime,
    latency: `acquire ${fmt(percentile(holdAcquireLat, config.holds, 50), 2)} / ${fmt(percentile(holdAcquireLat, config.holds, 99), 2)}`,
    delay: acqDelay,
  });

  // Hold: sample the least validity left across all locks; count extensions on the nodes.
  const scriptCalls = async (): Promise<number[]> =>
    Promise.all(
      clients.map(async (c) => {
        const info = await c.info('commandstats');
        let calls = 0;
        for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(m[1]);
        return calls;
      }),
    );
  const callsBefore = await scriptCalls();
  let minRemaining = Number.POSITIVE_INFINITY;
  probe.start();
  const hold = stopwatch();
  while (hold().wallMs < config.holdMs) {
    await sleep(Math.min(250, Math.max(1, config.holdMs - hold().wallMs)));
    for (const lock of held) if (lock && !lock.signal.aborted) minRemaining = Math.min(minRemaining, lock.remaining);
  }
  const holdTime = hold();
  const holdDelay = probe.stop();
  const callsAfter = await scriptCalls();
  // Heap with everything held, after the measured hold: one forced GC blocks the loop for a while
  // (timed below); done here so it cannot disturb the hold figures, only delay the releases.
  const gcStarted = performance.now();
  const heapHeldMb = (await settledHeap(1)) / MB;
  const heldGcMs = performance.now() - gcStarted;
  const extensionCalls = callsAfter.map((c, i) => c - callsBefore[i]);
  // Each extension round sends one script call to every node (the INFO calls are not scripts).
  const extensionRounds = Math.max(...extensionCalls);
  const lostByHoldEnd = lost - lostAtP2Start;
  phases.push({
    phase: `2b: hold all for ${fmt(config.holdMs / 1000, 0)} s`,
    ops: extensionRounds,
    time: holdTime,
    latency: `least validity left ${fmt(minRemaining, 0)} ms of ${config.ttl}`,
    delay: holdDelay,
    note: `${int(extensionRounds)} extension rounds = ${fmt(extensionRounds / Math.max(1, acquiredHolds), 1)} per lock (expected ≈ ${fmt(config.holdMs / (config.ttl / 3), 1)})`,
  });

  probe.start();
  const rel = stopwatch();
  let releasedHolds = 0;
  let releasesAfterLoss = 0;
  await inParallel(config.holds, config.concurrency, async (i) => {
    const lock = held[i];
    if (!lock) return;
    const wasLost = lock.signal.aborted;
    const t0 = performance.now();
    const result = await lock.release();
    holdReleaseLat[i] = performance.now() - t0;
    if (result.released) releasedHolds += 1;
    // A lost lock's keys may have expired already: its release finding nothing is no new failure.
    else if (wasLost) releasesAfterLoss += 1;
    else errors.add(new Error(`release reached ${result.nodes} nodes`));
  });
  const relTime = rel();
  const relDelay = probe.stop();
  phases.push({
    phase: `2c: release them`,
    ops: releasedHolds,
    time: relTime,
    latency: `release ${fmt(percentile(holdReleaseLat, config.holds, 50), 2)} / ${fmt(percentile(holdReleaseLat, config.holds, 99), 2)}`,
    delay: relDelay,
  });
  // release() does not abort a signal: the aborted ones are the locks lost before their release.
  const abortedSignals = held.filter((l) => l?.signal.aborted).length;
  const lostInP2 = lost - lostAtP2Start;
  // Drop our references so the heap figure sees what the library keeps, not what we keep.
  held = [];
  const afterP2 = await snapshot('After phase 2 (all released)');

  // --- phase 3: waiters on a few keys, woken by releases (one subscriber connection per node) ---
  const waiterLat = new Float64Array(config.waiters);
  let served = 0;
  let peakConnections = connectionsBefore.map(() => 0);
  let peakChannels = connectionsBefore.map(() => 0);
  const sampling = (async () => {
    // Sampled while the waiters wait: what the nodes see of this instance at its busiest.
    for (let i = 0; i < 20 && served < config.waiters; i++) {
      const [conns, chans] = await Promise.all([connectionsOnNodes(), wakeChannelsOnNodes()]);
      peakConnections = peakConnections.map((p, n) => Math.max(p, conns[n]!));
      peakChannels = peakChannels.map((p, n) => Math.max(p, chans[n]!));
      await sleep(50);
    }
  })();
  probe.start();
  const waitersStarted = stopwatch();
  await Promise.all(
    Array.from({ length: config.waiters }, async (_, i) => {
      const key = `p3:${i % 4}`;
      const t0 = performance.now();
      try {
        const lock = await redlock.acquire(key, { ttl: 10_000, wait: 60_000, fair: i % 4 < 2 });
        waiterLat[i] = performance.now() - t0;
        await sleep(1);
        const result = await lock.release();
        if (result.released) served += 1;
        else errors.add(new Error(`release reached ${result.nodes} nodes`));
      } catch (error) {
        errors.add(error, key);
      }
    }),
  );
  const waitersTime = waitersStarted();
  const waitersDelay = probe.stop();
  await sampling;
  await sleep(100); // the last waiter's UNSUBSCRIBE reaches the nodes
  const channelsAfterP3 = await wakeChannelsOnNodes();
  phases.push({
    phase: `3: ${int(config.waiters)} waiters at once on 4 keys (2 fair), 1 ms each`,
    ops: served,
    time: waitersTime,
    latency: `wait ${fmt(percentile(waiterLat, config.waiters, 50), 1)} / ${fmt(percentile(waiterLat, config.waiters, 99), 1)}`,
    delay: waitersDelay,
    note: `the nodes saw at most ${peakConnections.join(' / ')} connections of this instance and ${peakChannels.join(' / ')} wake channels subscribed; after the phase ${channelsAfterP3.join(' / ')} channels`,
  });
  const afterP3 = await snapshot('After phase 3 (waiters served)');

  // --- end: quit must be quick (nothing held) and leave nothing behind ---
  const quitting = stopwatch();
  await redlock.quit();
  const quitMs = quitting().wallMs;
  const afterQuit = await snapshot('After quit()');
  const clientStates = clients.map((c) => c.status);
  const quitStacks = config.timerStacks && tracker ? tracker.stacks('Timeout') : [];
  // closeConnection() races QUIT against 1 s unref'd timers; give them time to run out (and
  // a turn more, as a timer's destroy hook runs after the code its callback resumed).
  await sleep(1_100);
  await new Promise<void>((resolve) => setImmediate(resolve));
  const timeoutsLater = tracker?.count('Timeout');
  const timerStacks = config.timerStacks && tracker ? tracker.stacks('Timeout') : [];
  tracker?.disable();
  const connectionsAfterQuit = await connectionsOnNodes();
  const channelsAfterQuit = await wakeChannelsOnNodes();
  await cluster.stop();
  const endRefTimeouts = activeResources().Timeout ?? 0;

  // --- verdicts ---
  const marginMb = config.marginMb;
  const failures: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) failures.push(what);
    return ok ? 'ok' : '**FAIL**';
  };
  const heapOk = (s: Snapshot) => s.heapMb - start.heapMb <= marginMb;
  const listenerChanges = [afterP1, afterP2, afterP3].map((s) => listenerDiff(start.listeners, s.listeners));
  const quitListeners = listenerTotal(afterQuit.listeners);

  const report: string[] = [];
  const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
  report.push(`## Load run, ${startedAt.toISOString()}`);
  report.push('');
  report.push(
    `Node ${process.version}, ${cpus().length} cores (${cpuModel}), ${config.nodes} redis-server nodes ` +
      `(${config.persist ? 'AOF, appendfsync always' : 'no persistence'}), clients ${config.viaProxy ? 'through the in-process proxies' : 'direct to redis-server'}` +
      `${config.autoPipelining ? ' with ioredis auto-pipelining' : ''}${config.deferredTimeouts ? ', EXPERIMENT: engine timers deferred by one setImmediate' : ''}, ` +
      `timer tracking ${config.trackTimers ? 'on (async_hooks)' : 'off'}. Connect ${fmt(connectMs, 0)} ms; warm-up ${int(config.warmup)} cycles + ${warmHolds} auto-extended holds in ${fmt(warmTime.wallMs / 1000, 1)} s` +
      `${warmErrors.total + lostInWarmUp > 0 ? ` (${warmErrors.total} failed, ${lostInWarmUp} lost: ${[warmErrors.summary(), warmLostSummary].filter(Boolean).join('; ')})` : ''}.`,
  );
  report.push('');
  report.push('| Phase | Ops | Time s | ops/s | Latency p50 / p99 ms | Loop delay p50 / p99 / max ms | CPU (node) |');
  report.push('|---|---:|---:|---:|---|---|---:|');
  for (const p of phases) {
    const perSec = p.time.wallMs > 0 ? (p.ops / p.time.wallMs) * 1000 : Number.NaN;
    report.push(
      `| ${p.phase} | ${int(p.ops)} | ${fmt(p.time.wallMs / 1000, 1)} | ${p.phase.startsWith('2b') ? '—' : int(perSec)} | ${p.latency ?? ''} | ` +
        `${fmt(p.delay.p50)} / ${fmt(p.delay.p99)} / ${fmt(p.delay.max)} | ${fmt(p.time.cpuPct, 0)} % |`,
    );
  }
  const hold2b = phases.find((p) => p.phase.startsWith('2b'));
  if (hold2b?.note) report.push('', `Phase 2b: ${hold2b.note}.`);
  const waiters3 = phases.find((p) => p.phase.startsWith('3:'));
  if (waiters3?.note) report.push('', `Phase 3: ${waiters3.note}.`);
  report.push('');
  report.push(`| Check | Start | After phase 1 | After phases 2 and 3 | After quit() | Limit | Result |`);
  report.push('|---|---:|---:|---:|---:|---|---|');
  const d = (s: Snapshot) => `${fmt(s.heapMb, 2)} (${s.heapMb >= start.heapMb ? '+' : ''}${fmt(s.heapMb - start.heapMb, 2)})`;
  report.push(
    `| Heap used after forced GC, MB | ${fmt(start.heapMb, 2)} | ${d(afterP1)} | ${d(afterP3)} | ${d(afterQuit)} | ≤ start + ${marginMb} MB | ` +
      `${check(heapOk(afterP1) && heapOk(afterP2) && heapOk(afterP3), `heap grew beyond ${marginMb} MB`)} |`,
  );
  report.push(
    `| Engine timers pending (counting clock) | ${start.engineTimers} | ${afterP1.engineTimers} | ${afterP3.engineTimers} | ${afterQuit.engineTimers} | 0 | ` +
      `${check([start, afterP1, afterP2, afterP3, afterQuit].every((s) => s.engineTimers === 0), 'engine timers left pending')} |`,
  );
  if (tracker) {
    report.push(
      `| Live Timeout resources, incl. unref'd (async_hooks) | ${start.timeouts} | ${afterP1.timeouts} | ${afterP3.timeouts} | ${afterQuit.timeouts} → ${timeoutsLater} after 1.1 s | = start; 0 after quit | ` +
        `${check(afterP1.timeouts === start.timeouts && afterP2.timeouts === start.timeouts && afterP3.timeouts === start.timeouts && timeoutsLater === 0, 'Timeout resources remained')} |`,
    );
  } else {
    report.push(`| Live Timeout resources, incl. unref'd (async_hooks) | not tracked (--track-timers) | | | | | |`);
  }
  report.push(
    `| Ref'd Timeouts (getActiveResourcesInfo) | ${start.refTimeouts} | ${afterP1.refTimeouts} | ${afterP3.refTimeouts} | ${afterQuit.refTimeouts} | = start; ${baseRefTimeouts} at exit | ` +
      `${check(afterP1.refTimeouts === start.refTimeouts && afterP2.refTimeouts === start.refTimeouts && afterP3.refTimeouts === start.refTimeouts && endRefTimeouts <= baseRefTimeouts, 'ref\'d timers remained')} |`,
  );
  report.push(
    `| Listeners on the ${clients.length} ioredis clients (total) | ${listenerTotal(start.listeners)} | ${listenerTotal(afterP1.listeners)} | ${listenerTotal(afterP3.listeners)} | ${quitListeners} | = start; fewer after quit | ` +
      `${check(listenerChanges.every((c) => c.length === 0) && quitListeners < listenerTotal(start.listeners), `listener counts changed: ${listenerChanges.flat().join(', ')}`)} |`,
  );
  report.push(
    `| Held-lock set of the instance (private field) | ${start.held ?? 'n/a'} | ${afterP1.held ?? 'n/a'} | ${afterP3.held ?? 'n/a'} | ${afterQuit.held ?? 'n/a'} | 0 | ` +
      `${check([afterP1, afterP2, afterP3].every((s) => s.held === 0 || s.held === undefined), 'locks stayed in the held set')} |`,
  );
  report.push(
    `| Connections of this instance on each node (CLIENT LIST, admin left out) | ${connectionsBefore.join(' / ')} before it | | peak in phase 3: ${peakConnections.join(' / ')} | ${connectionsAfterQuit.join(' / ')} | = before | ` +
      `${check(connectionsAfterQuit.every((c, n) => c === connectionsBefore[n]), 'connections left open on the nodes after quit()')} |`,
  );
  report.push(
    `| Wake channels subscribed on each node (PUBSUB CHANNELS) | | | after phase 3: ${channelsAfterP3.join(' / ')} | ${channelsAfterQuit.join(' / ')} | 0 | ` +
      `${check([...channelsAfterP3, ...channelsAfterQuit].every((c) => c === 0), 'wake channels still subscribed after the last waiter left')} |`,
  );
  report.push(
    `| Phase 3 waiters served | | | ${served} of ${config.waiters} | | all | ${check(served === config.waiters, 'waiters not served')} |`,
  );
  report.push(
    `| quit() duration, ms | | | | ${fmt(quitMs, 1)} | nothing to release | ${check(quitMs < 100, 'quit() was slow (locks still held?)')} |`,
  );
  report.push(
    `| Locks lost (lockLost events / aborted signals) | | ${lostAtP2Start} / — | ${lostInP2} / ${abortedSignals}${lostInP2 > 0 ? ` (${lostByHoldEnd} by the end of the hold)` : ''} | | 0 | ` +
      `${check(lost === 0 && abortedSignals === 0, 'held locks were lost')} |`,
  );
  report.push(
    `| Failed operations / incomplete releases / nodeDown | | | ${errors.total} / ${releaseIncomplete - releasesAfterLoss}${releasesAfterLoss ? ` (+${releasesAfterLoss} of lost locks)` : ''} / ${nodeDown} | | 0 | ` +
      `${check(errors.total === 0 && releaseIncomplete - releasesAfterLoss === 0, 'operations failed')} |`,
  );
  report.push('');
  const xs = checkpointHeaps.map((c) => c.cycles);
  const ys = checkpointHeaps.map((c) => c.heapMb * MB);
  report.push(
    `Heap during phase 1 (MB after GC at ${xs.map(int).join(' / ')} cycles): ${checkpointHeaps.map((c) => fmt(c.heapMb, 2)).join(' / ')}; ` +
      `trend ${fmt(slope(xs, ys), 2)} bytes per cycle.`,
  );
  if (!Number.isNaN(heapHeldMb)) {
    report.push(
      `Heap with ${int(acquiredHolds)} locks held (end of the hold, after GC): ${fmt(heapHeldMb, 2)} MB, ` +
        `≈ ${int(((heapHeldMb - start.heapMb) * MB) / Math.max(1, acquiredHolds))} bytes per held lock (incl. this script's array); that forced GC took ${fmt(heldGcMs, 0)} ms.`,
    );
  }
  report.push(`Client states after quit(): ${clientStates.join(', ')}. Engine timers created in total: ${int(clock.created())}.`);
  if (errors.total > 0) report.push('', `Errors: ${errors.summary()}`);
  if (lost > 0) report.push('', `Lost: ${lostReasons.summary()}`);
  if (listenerChanges.flat().length > 0) report.push('', `Listener changes: ${listenerChanges.flat().join(', ')}`);
  if (quitStacks.length > 0) report.push('', 'Live Timeouts right after quit() were created at:', '```', ...quitStacks.slice(0, 10), '```');
  if (timerStacks.length > 0) report.push('', 'Live Timeouts at the end were created at:', '```', ...timerStacks.slice(0, 10), '```');
  report.push('', failures.length === 0 ? '**Result: pass.**' : `**Result: FAIL** (${failures.join('; ')}).`);
  console.log(report.join('\n'));

  if (args.json) {
    await writeFile(
      args.json,
      JSON.stringify({ startedAt, config, connectMs, phases, snapshots, checkpointHeaps, heapHeldMb, quitMs, lost, abortedSignals, errors: errors.summary(), failures, extensionCalls, minRemaining, timeoutsLater, latencies: { cycle: latency(cycleLat, config.cycles) } }, null, 2),
    );
  }
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    if (!interrupted) process.exitCode = code;
  },
  async (error: unknown) => {
    console.error(error);
    await shutdown(1);
  },
);
