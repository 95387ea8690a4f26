// The bench's scenarios. Each runs one library at a time against the same nodes; run.ts
// interleaves the libraries so that a noisy moment of the shared machine hits them all.
import { Redis } from 'ioredis';
import { distribution } from '../soak/stats.js';
import type { Distribution } from '../soak/stats.js';
import type { Contender } from './libraries.js';

const now = () => performance.now();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Redis commands served by these nodes so far (INFO commandstats), INFO itself left out. */
export async function commandsServed(admins: readonly Redis[]): Promise<number> {
  let total = 0;
  for (const admin of admins) {
    const text = await admin.info('commandstats');
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (match[1] !== 'info') total += Number(match[2]);
    }
  }
  return total;
}

/**
 * Requests the clients of this process sent (every ioredis connection, subscribers included;
 * INFO left out): what the nodes were asked, whatever a script then runs inside. Counted at the
 * client, since the servers' own counters include the commands a script calls.
 */
let requests = 0;
const sendCommand = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function countedSendCommand(this: Redis, ...args: Parameters<Redis['sendCommand']>) {
  if (args[0]?.name !== 'info') requests += 1;
  return sendCommand.apply(this, args);
};
export const requestsSent = () => requests;

export interface Uncontended {
  readonly latency: Distribution;
  readonly errors: number;
}

/** Acquire + release of a free key, one after the other, each on a key of its own. */
export async function uncontended(lib: Contender, iterations: number, tag: string): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = now();
    const held = await lib.tryLock(`free:${tag}:${i}`);
    if (!held) continue;
    await held.release();
    samples.push(now() - start);
  }
  return samples;
}

/** `loops` concurrent acquire+release loops on distinct keys for `durationMs`: cycles per second. */
export async function throughput(lib: Contender, loops: number, durationMs: number, tag: string): Promise<{ cycles: number; errors: number; ms: number }> {
  const stopAt = now() + durationMs;
  let cycles = 0;
  let errors = 0;
  const start = now();
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      for (let i = 0; now() < stopAt; i++) {
        try {
          const held = await lib.lock(`tp:${tag}:${loop}:${i % 8}`);
          await held.release();
          cycles += 1;
        } catch {
          errors += 1;
        }
      }
    }),
  );
  return { cycles, errors, ms: now() - start };
}

export interface Contention {
  readonly sections: number;
  readonly sectionsPerSecond: number;
  /** From a release starting to another worker entering. */
  readonly handoffToOther: Distribution;
  readonly longestWaitMs: number;
  /** Share of handoffs the releasing worker won back itself. */
  readonly wonBack: number;
  readonly commandsPerSection: number;
  /** Requests the clients sent per critical section (requestsSent). */
  readonly requestsPerSection: number;
  readonly errors: number;
}

/** `workers` loops fighting over one key, each holding it `holdMs`. */
export async function contention(lib: Contender, admins: readonly Redis[], workers: number, holdMs: number, durationMs: number, key: string): Promise<Contention> {
  const stopAt = now() + durationMs;
  const handoffs: number[] = [];
  let last: { worker: number; releasedAt: number } | undefined;
  let sections = 0;
  let wonBack = 0;
  let longestWait = 0;
  let errors = 0;
  const commandsBefore = await commandsServed(admins);
  const requestsBefore = requestsSent();
  const start = now();
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      while (now() < stopAt) {
        const asked = now();
        let held;
        try {
          held = await lib.lock(key);
        } catch {
          errors += 1;
          continue;
        }
        const entered = now();
        longestWait = Math.max(longestWait, entered - asked);
        if (last && last.worker !== worker) handoffs.push(entered - last.releasedAt);
        else if (last) wonBack += 1;
        sections += 1;
        await pause(holdMs);
        last = { worker, releasedAt: now() };
        await held.release();
      }
    }),
  );
  const ms = now() - start;
  const requestCount = requestsSent() - requestsBefore;
  const commands = (await commandsServed(admins)) - commandsBefore;
  return {
    sections,
    sectionsPerSecond: (sections * 1_000) / ms,
    handoffToOther: distribution(handoffs),
    longestWaitMs: longestWait,
    wonBack: sections > 1 ? wonBack / (sections - 1) : 0,
    commandsPerSection: sections > 0 ? commands / sections : Number.NaN,
    requestsPerSection: sections > 0 ? requestCount / sections : Number.NaN,
    errors,
  };
}

/** `waiters` callers arrive at once for one key, each holds it 1 ms once. */
export async function herd(
  lib: Contender,
  admins: readonly Redis[],
  waiters: number,
  key: string,
): Promise<{ ms: number; served: number; commandsPerHandoff: number; requestsPerHandoff: number; errors: number }> {
  const commandsBefore = await commandsServed(admins);
  const requestsBefore = requestsSent();
  const start = now();
  let served = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: waiters }, async () => {
      try {
        const held = await lib.lock(key);
        await pause(1);
        await held.release();
        served += 1;
      } catch {
        errors += 1;
      }
    }),
  );
  const ms = now() - start;
  const requestCount = requestsSent() - requestsBefore;
  const commands = (await commandsServed(admins)) - commandsBefore;
  return { ms, served, commandsPerHandoff: served > 0 ? commands / served : Number.NaN, requestsPerHandoff: served > 0 ? requestCount / served : Number.NaN, errors };
}

/** `count` distinct keys held at once (taken `concurrency` at a time), then all released. */
export async function manyHeld(lib: Contender, count: number, concurrency: number, tag: string): Promise<{ acquireMs: number; releaseMs: number; held: number; errors: number }> {
  const held: { release(): Promise<unknown> }[] = [];
  let errors = 0;
  let next = 0;
  const start = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const lock = await lib.tryLock(`many:${tag}:${i}`).catch(() => null);
        if (lock) held.push(lock);
        else errors += 1;
      }
    }),
  );
  const acquireMs = now() - start;
  const releaseStart = now();
  for (let i = 0; i < held.length; i += concurrency) await Promise.all(held.slice(i, i + concurrency).map((h) => h.release()));
  return { acquireMs, releaseMs: now() - releaseStart, held: held.length, errors };
}
