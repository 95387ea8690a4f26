// One contender process of the soak: W workers loop acquire -> touch the data store -> work ->
// check the lease -> touch it again -> release, and stream what happened to the orchestrator.
// What "touch" means depends on the workload (mutex and rw writers: read-modify-write of a
// per-key counter; rw readers: read it twice; semaphore: register as a live holder; fenced: the
// counter written through fencedWrite). It uses the engine as any application would; it never
// judges the results (the checker does).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { fencedWrite, Redlock } from '../lib/core/index.js';
import type { AcquireOptions, Lock } from '../lib/core/index.js';
import { expiryWarningMargin } from '../lib/core/engine/lease-watch.js';
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
  Workload,
} from './protocol.js';
import { between, pick, seededRandom } from './random.js';

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

/**
 * An rw reader's read, under the same deadline rule: the value only if the reader's lease has not
 * ended on the store's clock, so a change between two such reads means a writer wrote while the
 * reader's lease was valid. Reply {1, value} or {0} (too late). KEYS[1] = counter, ARGV[1] = deadline.
 */
const READ_BEFORE_DEADLINE = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now >= tonumber(ARGV[1]) then return {0} end
return {1, redis.call('GET', KEYS[1]) or '0'}`;

/**
 * The semaphore's store check: a sorted set of live holders scored by the end of their lease
 * (store clock). Drops the holders whose lease ended, then adds (or re-scores) this one unless its
 * own lease has ended, and answers how many are live, itself included (-1 = too late). More than
 * `limit` means the store saw more permits in use at once than the semaphore allows.
 * KEYS[1] = holder set, ARGV[1] = holder, ARGV[2] = deadline (unix ms).
 */
const COUNT_LIVE_HOLDER = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if now >= tonumber(ARGV[2]) then return -1 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return redis.call('ZCARD', KEYS[1])`;

const FLUSH_EVERY_MS = 250;
const UNAVAILABLE_BACKOFF_MS: readonly [number, number] = [50, 150];

const config = JSON.parse(process.argv[2] ?? '{}') as ContenderConfig;
const { proc } = config;
const random = seededRandom(config.seed);

const batch = { sections: [] as SectionRecord[], acquires: [] as AcquireRecord[], losses: [] as LossRecord[], problems: [] as ProblemRecord[] };
const inFlight = new Map<number, InFlightAcquire>();
let stopping = false;
let longHeld = 0;
let longFencedHeld = 0;
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
data.defineCommand('readBeforeDeadline', { numberOfKeys: 1, lua: READ_BEFORE_DEADLINE });
data.defineCommand('countLiveHolder', { numberOfKeys: 1, lua: COUNT_LIVE_HOLDER });
const scripts = data as unknown as {
  writeBeforeDeadline(k: string, v: number, d: number): Promise<number>;
  readBeforeDeadline(k: string, d: number): Promise<[number, string?]>;
  countLiveHolder(k: string, holder: string, d: number): Promise<number>;
};
/** The lease's end as a unix-ms deadline (Redis TIME and Date.now() read the same machine clock). */
const deadlineOf = (lock: Lock) => Date.now() + lock.remaining;
const readBeforeDeadline = async (key: string, lock: Lock): Promise<number | undefined> => {
  const [ok, value] = await scripts.readBeforeDeadline(key, deadlineOf(lock));
  return ok === 1 ? Number(value) : undefined;
};

/** Keys of each workload are apart (`rw:hot:0`, ...); the mutex keeps the plain names. */
function pickKey(workload: Workload, forceHot: boolean): { key: string; hot: boolean } {
  const hot = config.coldKeys === 0 || (config.hotKeys > 0 && (forceHot || random() < config.hotShare));
  const count = hot ? config.hotKeys : config.coldKeys;
  return { key: `${workload === 'mutex' ? '' : `${workload}:`}${hot ? 'hot' : 'cold'}:${Math.floor(random() * count)}`, hot };
}

function acquireOptions(workload: Workload, mode: 'read' | 'write', long: boolean): AcquireOptions {
  const options: AcquireOptions = { autoExtend: long };
  if (workload === 'rw' && mode === 'read') options.mode = 'read';
  if (workload === 'semaphore') options.limit = config.limit;
  if (workload === 'fenced') options.fenced = true;
  if (workload === 'fair') options.fair = true;
  return options;
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'OTHER';
}

async function worker(index: number): Promise<void> {
  const owner = `p${proc}/w${index}`;
  while (!stopping) {
    const workload = pick(random, config.workloads);
    const mode = workload === 'rw' && random() < config.readShare ? 'read' : 'write';
    const long = random() < config.longShare;
    // A long fenced section is the one a pause freezes past its lease; on a hot key, someone
    // else surely takes and writes the key meanwhile, so its late write meets a larger fence.
    const { key, hot } = pickKey(workload, long && workload === 'fenced');
    const startedAt = machineNow();
    inFlight.set(index, { key, startedAt });
    let lock: Lock;
    try {
      lock = await redlock.acquire(key, acquireOptions(workload, mode, long));
    } catch (error) {
      inFlight.delete(index);
      const result = codeOf(error);
      const unusual = result !== 'LOCK_BUSY' && result !== 'QUORUM_UNAVAILABLE';
      batch.acquires.push({ proc, key, hot, startedAt, endedAt: machineNow(), result, workload, mode, ...(unusual ? { message: String(error) } : {}) });
      await sleep(between(random, result === 'QUORUM_UNAVAILABLE' ? UNAVAILABLE_BACKOFF_MS : config.thinkMs));
      continue;
    }
    inFlight.delete(index);
    const enteredAt = machineNow();
    batch.acquires.push({ proc, key, hot, startedAt, endedAt: enteredAt, result: 'ok', workload, mode });
    await criticalSection(lock, { owner, key, hot, long, enteredAt, workload, mode });
    await sleep(between(random, config.thinkMs));
  }
}

interface Section {
  readonly owner: string;
  readonly key: string;
  readonly hot: boolean;
  readonly long: boolean;
  readonly enteredAt: number;
  readonly workload: Workload;
  readonly mode: 'read' | 'write';
}

/** What a section did with the data store, and what the holder saw when it checked its lease. */
interface Touch {
  outcome: SectionOutcome;
  checkedAt: number;
  abortedAtCheck: boolean;
  remainingAtCheck: number;
  wroteValue?: number;
  highestFence?: number;
  readChanged?: boolean;
  storeHolders?: number;
}

async function criticalSection(lock: Lock, s: Section): Promise<void> {
  const onAbort = () => {
    const reason = lock.signal.reason as Error | undefined;
    batch.losses.push({ proc, key: s.key, at: machineNow(), validUntil: toMachineTime(lock.validUntil), reason: reason?.message ?? String(reason), loopBlocked: loopBlockedAcross(toMachineTime(lock.validUntil), config.ttl) });
  };
  if (lock.signal.aborted) onAbort();
  else lock.signal.addEventListener('abort', onAbort, { once: true });
  // The chaos freezes a process that holds a long lock, so a pause always tests a held lease.
  const fencedLong = s.long && s.workload === 'fenced';
  if (s.long) void send({ type: 'holding', long: ++longHeld, longFenced: fencedLong ? ++longFencedHeld : longFencedHeld });
  const touch: Touch = { outcome: 'skipped', checkedAt: s.enteredAt, abortedAtCheck: false, remainingAtCheck: 0 };
  try {
    await TOUCH[s.workload === 'rw' && s.mode === 'read' ? 'reader' : s.workload](lock, s, touch);
  } catch (error) {
    problem('workerCrash', error);
  }
  const leftAt = machineNow();
  batch.sections.push({
    proc, owner: s.owner, key: s.key, hot: s.hot, long: s.long, enteredAt: s.enteredAt, leftAt, validUntil: toMachineTime(lock.validUntil),
    workload: s.workload, mode: s.mode, ...(lock.fence === undefined ? {} : { fence: lock.fence }), ...touch,
  });
  await lock.release();
  lock.signal.removeEventListener('abort', onAbort);
  if (s.long) void send({ type: 'holding', long: --longHeld, longFenced: fencedLong ? --longFencedHeld : longFencedHeld });
}

/** The work: a well-behaved holder stops as soon as its lock's signal says it is lost. */
async function work(lock: Lock, s: Section, touch: Touch): Promise<void> {
  await sleep(between(random, s.long ? config.longHoldMs : config.holdMs), undefined, { signal: lock.signal }).catch(() => undefined);
  touch.checkedAt = machineNow();
  touch.abortedAtCheck = lock.signal.aborted;
  touch.remainingAtCheck = lock.remaining;
}

/** The holder's duty (rule 10): never touch the data on a lock that is lost or about to end. */
const holderMayWrite = (touch: Touch) => !touch.abortedAtCheck && touch.remainingAtCheck >= config.writeMargin;

const TOUCH: Record<Workload | 'reader', (lock: Lock, s: Section, touch: Touch) => Promise<void>> = {
  // Read-modify-write of the counter, the write refused by the store after the lease's end.
  async mutex(lock, s, touch) {
    const counter = `counter:${s.key}`;
    const value = Number(await data.get(counter));
    await work(lock, s, touch);
    if (!holderMayWrite(touch)) return;
    const written = (await scripts.writeBeforeDeadline(counter, value + 1, deadlineOf(lock))) === 1;
    touch.outcome = written ? 'written' : 'refused';
    if (written) touch.wroteValue = value + 1;
  },
  // An rw writer is the mutex's read-modify-write on its own key space.
  rw: (lock, s, touch) => TOUCH.mutex(lock, s, touch),
  // A fair lock is a mutex whose waiters stand in line: the same read-modify-write.
  fair: (lock, s, touch) => TOUCH.mutex(lock, s, touch),
  // A reader reads the counter on entry and again at the end: no writer may change it meanwhile.
  async reader(lock, s, touch) {
    const counter = `counter:${s.key}`;
    const first = await readBeforeDeadline(counter, lock);
    await work(lock, s, touch);
    if (first === undefined) {
      touch.outcome = 'refused';
      return;
    }
    if (!holderMayWrite(touch)) return;
    const second = await readBeforeDeadline(counter, lock);
    touch.outcome = second === undefined ? 'refused' : 'read';
    if (second !== undefined) touch.readChanged = second !== first;
  },
  // A permit holder registers in the store's set of live holders on entry and again at the end.
  async semaphore(lock, s, touch) {
    const holders = `holders:${s.key}`;
    try {
      const first = await scripts.countLiveHolder(holders, lock.value, deadlineOf(lock));
      await work(lock, s, touch);
      if (first < 0) {
        touch.outcome = 'refused';
        return;
      }
      touch.storeHolders = first;
      if (!holderMayWrite(touch)) return;
      const second = await scripts.countLiveHolder(holders, lock.value, deadlineOf(lock));
      touch.outcome = second < 0 ? 'refused' : 'counted';
      touch.storeHolders = Math.max(first, second);
    } finally {
      await data.zrem(holders, lock.value);
    }
  },
  // No deadline and no holder check: the write always goes out with the lock's fence, and the
  // store alone decides (a holder frozen past its lease writes late, and must be refused).
  async fenced(lock, s, touch) {
    const counter = `counter:${s.key}`;
    const value = Number(await data.get(counter));
    await work(lock, s, touch);
    const result = await fencedWrite(data, counter, value + 1, lock.fence!, { fenceKey: `fence:${s.key}` });
    touch.outcome = result.written ? 'written' : 'refused-by-fence';
    if (result.written) touch.wroteValue = value + 1;
    else touch.highestFence = result.highestFence;
  },
};

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
/**
 * Stretches in which the event loop did not turn (a 10 ms ticker that came late), the last few:
 * a lock whose loss is signalled after its validity ended tells whether the loop was blocked then.
 */
const LOOP_GAP_MS = 50;
const loopGaps: { from: number; to: number }[] = [];
let lastLoopTurn = machineNow();
const loopTicker = setInterval(() => {
  const now = machineNow();
  if (now - lastLoopTurn >= LOOP_GAP_MS) loopGaps.push({ from: lastLoopTurn, to: now });
  if (loopGaps.length > 32) loopGaps.shift();
  lastLoopTurn = now;
}, 10);
loopTicker.unref();

/**
 * The gap of the loop that spans from the expiry warning's due time (validity end minus its
 * margin, give or take the ticker's 10 ms) to the end of validity, counting the gap still going
 * on (the ticker may not have run yet): only then could no timer have signalled the loss in time.
 */
function loopBlockedAcross(validUntil: number, ttl: number): { from: number; to: number } | undefined {
  const warnAt = validUntil - expiryWarningMargin(ttl);
  const now = machineNow();
  const current = now - lastLoopTurn >= LOOP_GAP_MS ? [{ from: lastLoopTurn, to: now }] : [];
  return [...loopGaps, ...current].find((gap) => gap.from <= warnAt + 10 && gap.to >= validUntil);
}
const flusher = setInterval(() => void flush(), FLUSH_EVERY_MS);
flusher.unref();
process.on('message', (message: OrchestratorMessage) => {
  if (message.type === 'stop' && !stopping) void stop();
});
const workersDone = Promise.all(
  Array.from({ length: config.workers }, (_, i) => worker(i).catch((error: unknown) => problem('workerCrash', error))),
);
