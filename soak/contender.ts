// One contender process of the soak: W workers loop acquire -> read a per-key counter -> work ->
// check the lease -> write counter + 1 -> release, and stream what happened to the orchestrator.
// It uses the engine as any application would; it never judges the results (the checker does).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Redlock } from '../lib/core/index.js';
import type { Lock } from '../lib/core/index.js';
import { machineNow, toMachineTime } from '../test/support/overlap-checker.js';
import type {
  AcquireRecord,
  ContenderConfig,
  ContenderMessage,
  InFlightAcquire,
  LossRecord,
  OrchestratorMessage,
  ProblemRecord,
  SectionOutcome,
  SectionRecord,
} from './protocol.js';
import { between, seededRandom } from './random.js';

/**
 * The data store's own check (a stand-in for a fencing token, rule 17): write only before the
 * holder's lease ends on the store's clock. The holder checks its lease first; this closes only
 * the microseconds between that check and the write leaving the process, where a SIGSTOP of the
 * holder would otherwise let a stale write land. Redis TIME and Date.now() read the same
 * machine clock. KEYS[1] = counter, ARGV[1] = new value, ARGV[2] = deadline (unix ms).
 */
const WRITE_BEFORE_DEADLINE = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1`;

const FLUSH_EVERY_MS = 250;
const UNAVAILABLE_BACKOFF_MS: readonly [number, number] = [50, 150];

const config = JSON.parse(process.argv[2] ?? '{}') as ContenderConfig;
const { proc } = config;
const random = seededRandom(config.seed);

const batch = { sections: [] as SectionRecord[], acquires: [] as AcquireRecord[], losses: [] as LossRecord[], problems: [] as ProblemRecord[] };
const inFlight = new Map<number, InFlightAcquire>();
let stopping = false;
let longHeld = 0;
let lockLostEvents = 0;
let releaseIncompleteEvents = 0;

function send(message: ContenderMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

function flush(): Promise<void> {
  const { sections, acquires, losses, problems } = batch;
  if (sections.length + acquires.length + losses.length + problems.length === 0) return Promise.resolve();
  batch.sections = [];
  batch.acquires = [];
  batch.losses = [];
  batch.problems = [];
  return send({ type: 'records', sections, acquires, losses, problems });
}

function problem(kind: ProblemRecord['kind'], error: unknown): void {
  // The first frames say where it came from; the whole stack would flood the report.
  const where = error instanceof Error ? (error.stack ?? '').split('\n').slice(1, 6).map((l) => l.trim()).join(' < ') : '';
  const message = error instanceof Error ? `${error.name}: ${error.message}${where ? ` (${where})` : ''}` : String(error);
  batch.problems.push({ proc, kind, at: machineNow(), message });
}

// The soak fails on any of these: install the listeners before anything can go wrong.
process.on('unhandledRejection', (reason) => problem('unhandledRejection', reason));
process.on('uncaughtException', (error) => {
  problem('uncaughtException', error);
  void flush().finally(() => process.exit(1));
});
// The orchestrator is gone (crashed or killed): nobody will read our records.
process.on('disconnect', () => {
  if (!stopping) process.exit(1);
});

const redlock = new Redlock(config.lockUrls, {
  ttl: config.ttl,
  wait: config.wait,
  retryDelay: config.retryDelay,
  retryJitter: config.retryJitter,
  ...(config.restartGuard === undefined ? {} : { restartGuard: config.restartGuard }),
});
// Redlock documents that it never emits 'error'; if it ever did, that would crash an app.
(redlock as unknown as NodeJS.EventEmitter).on('error', (error: unknown) => problem('errorEvent', error));
redlock.on('lockLost', () => (lockLostEvents += 1));
redlock.on('releaseIncomplete', () => (releaseIncompleteEvents += 1));

// The data store is never faulted: any error from it is a real problem.
const data = new Redis(config.dataUrl, { maxRetriesPerRequest: 1 });
data.on('error', (error) => problem('errorEvent', error));
data.defineCommand('writeBeforeDeadline', { numberOfKeys: 1, lua: WRITE_BEFORE_DEADLINE });
const writeBeforeDeadline = (key: string, value: number, deadline: number) =>
  (data as unknown as { writeBeforeDeadline(k: string, v: number, d: number): Promise<number> }).writeBeforeDeadline(key, value, deadline);

function pickKey(): { key: string; hot: boolean } {
  const hot = config.coldKeys === 0 || (config.hotKeys > 0 && random() < config.hotShare);
  const count = hot ? config.hotKeys : config.coldKeys;
  return { key: `${hot ? 'hot' : 'cold'}:${Math.floor(random() * count)}`, hot };
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'OTHER';
}

async function worker(index: number): Promise<void> {
  const owner = `p${proc}/w${index}`;
  while (!stopping) {
    const { key, hot } = pickKey();
    const long = random() < config.longShare;
    const startedAt = machineNow();
    inFlight.set(index, { key, startedAt });
    let lock: Lock;
    try {
      lock = await redlock.acquire(key, { autoExtend: long });
    } catch (error) {
      inFlight.delete(index);
      const result = codeOf(error);
      const unusual = result !== 'LOCK_BUSY' && result !== 'QUORUM_UNAVAILABLE';
      batch.acquires.push({ proc, key, hot, startedAt, endedAt: machineNow(), result, ...(unusual ? { message: String(error) } : {}) });
      await sleep(between(random, result === 'QUORUM_UNAVAILABLE' ? UNAVAILABLE_BACKOFF_MS : config.thinkMs));
      continue;
    }
    inFlight.delete(index);
    const enteredAt = machineNow();
    batch.acquires.push({ proc, key, hot, startedAt, endedAt: enteredAt, result: 'ok' });
    await criticalSection(lock, { owner, key, hot, long, enteredAt });
    await sleep(between(random, config.thinkMs));
  }
}

async function criticalSection(lock: Lock, s: { owner: string; key: string; hot: boolean; long: boolean; enteredAt: number }): Promise<void> {
  const onAbort = () => {
    const reason = lock.signal.reason as Error | undefined;
    batch.losses.push({ proc, key: s.key, at: machineNow(), validUntil: toMachineTime(lock.validUntil), reason: reason?.message ?? String(reason) });
  };
  if (lock.signal.aborted) onAbort();
  else lock.signal.addEventListener('abort', onAbort, { once: true });
  // The chaos freezes a process that holds a long lock, so a pause always tests a held lease.
  if (s.long) void send({ type: 'holding', long: ++longHeld });
  const counter = `counter:${s.key}`;
  let outcome: SectionOutcome = 'skipped';
  let checkedAt = s.enteredAt;
  let abortedAtCheck = false;
  let remainingAtCheck = 0;
  try {
    const value = Number(await data.get(counter));
    // The work: a well-behaved holder stops as soon as its lock's signal says it is lost.
    await sleep(between(random, s.long ? config.longHoldMs : config.holdMs), undefined, { signal: lock.signal }).catch(() => undefined);
    checkedAt = machineNow();
    abortedAtCheck = lock.signal.aborted;
    remainingAtCheck = lock.remaining;
    // The holder's duty (rule 10): never write on a lock that is lost or about to end.
    if (!abortedAtCheck && remainingAtCheck >= config.writeMargin) {
      const deadline = Date.now() + lock.remaining;
      outcome = (await writeBeforeDeadline(counter, value + 1, deadline)) === 1 ? 'written' : 'refused';
    }
  } catch (error) {
    problem('workerCrash', error);
  }
  const leftAt = machineNow();
  batch.sections.push({ proc, owner: s.owner, key: s.key, hot: s.hot, long: s.long, enteredAt: s.enteredAt, checkedAt, abortedAtCheck, remainingAtCheck, leftAt, validUntil: toMachineTime(lock.validUntil), outcome });
  await lock.release();
  lock.signal.removeEventListener('abort', onAbort);
  if (s.long) void send({ type: 'holding', long: --longHeld });
}

async function stop(): Promise<void> {
  stopping = true;
  // While the workers finish, tell the orchestrator which acquires are still open: if one never
  // returns, that is the hang it reports.
  const reporter = setInterval(() => void send({ type: 'inflight', acquires: [...inFlight.values()] }), 500);
  await workersDone;
  clearInterval(reporter);
  await redlock.quit();
  await data.quit().catch(() => undefined);
  loopDelay.disable();
  await flush();
  await send({
    type: 'done',
    summary: {
      lockLostEvents,
      releaseIncompleteEvents,
      loopDelayP99: loopDelay.percentile(99) / 1e6,
      loopDelayMax: loopDelay.max / 1e6,
    },
  });
  process.exit(0);
}

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const flusher = setInterval(() => void flush(), FLUSH_EVERY_MS);
flusher.unref();
process.on('message', (message: OrchestratorMessage) => {
  if (message.type === 'stop' && !stopping) void stop();
});
const workersDone = Promise.all(
  Array.from({ length: config.workers }, (_, i) => worker(i).catch((error: unknown) => problem('workerCrash', error))),
);
