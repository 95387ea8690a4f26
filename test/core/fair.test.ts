import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redlock, RedlockConfigError } from '../../lib/core/index.js';
import type { Lock, RedlockOptions } from '../../lib/core/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let nodes: RedisNodes;
const open: Redlock[] = [];
function redlock(options: RedlockOptions = {}): Redlock {
  const instance = new Redlock(nodes.urls(), options);
  open.push(instance);
  return instance;
}

beforeAll(async () => {
  nodes = await startRedisNodes(3, { plain: true });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.quit()));
});
afterAll(async () => {
  await nodes?.stop();
});

describe('fair: true, waiters are granted in arrival order', () => {
  it.each([true, false])('across two Redlock instances (wake-ups %s)', async (wakeUps) => {
    const holder = redlock();
    const clients = [redlock({ wakeUps }), redlock({ wakeUps })];
    const resource = `fair:order:${wakeUps}`;
    let held: Lock = await holder.acquire(resource, { fair: true });
    const order: number[] = [];
    const waiters: Promise<void>[] = [];
    for (let i = 0; i < 6; i += 1) {
      waiters.push(
        clients[i % 2]!.acquire(resource, { fair: true, wait: 10_000 }).then(async (lock) => {
          order.push(i);
          await sleep(30);
          await lock.release();
        }),
      );
      await sleep(60); // each one is in line before the next arrives
    }
    await held.release();
    await Promise.all(waiters);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    held = await holder.acquire(resource, { fair: true, wait: 0 }); // the line is empty again
    await held.release();
  });

  it('a release wakes the waiter first in line, in its own process; the ones behind it sleep instead of polling', async () => {
    const holder = redlock();
    const [first, behind] = [redlock(), redlock()];
    const resource = 'fair:named';
    const held = await holder.acquire(resource, { fair: true });
    const attempts: number[] = [];
    behind.on('acquireSettled', (report) => attempts.push(report.attempts));
    // retryDelay 20 ms: a waiter that polled would try about 40 times in the 800 ms below.
    const firstDone = first.acquire(resource, { fair: true, wait: 10_000, retryDelay: 20 });
    await sleep(100);
    const behindDone = behind.acquire(resource, { fair: true, wait: 10_000, retryDelay: 20 });
    await sleep(200);
    const released = performance.now();
    await held.release();
    const lock = await firstDone;
    // Woken by the release, not by its fallback timer (a second), nor by the holder's lease (10 s).
    expect(performance.now() - released).toBeLessThan(500);
    await sleep(500);
    await lock.release();
    await (await behindDone).release();
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toBeLessThanOrEqual(5);
  });

  it('a waiter that gives up leaves the line at once', async () => {
    const holder = redlock();
    const held = await holder.acquire('fair:abort', { fair: true });
    const quitter = new AbortController();
    const first = redlock().acquire('fair:abort', { fair: true, wait: 10_000, signal: quitter.signal }).catch((e: unknown) => e);
    await sleep(100);
    const second = redlock().acquire('fair:abort', { fair: true, wait: 10_000 });
    await sleep(100);
    quitter.abort();
    expect(await first).toMatchObject({ code: 'ABORTED' });
    const started = performance.now();
    await held.release();
    const lock = await second;
    expect(performance.now() - started).toBeLessThan(1_000);
    await lock.release();
  });

  it("a waiter that died leaves the line when its place lapses, and the one behind it gets the lock", async () => {
    const holder = redlock();
    const held = await holder.acquire('fair:crash', { fair: true });
    const child = spawn(process.execPath, ['--import', './tools/ts-register.mjs', 'test/core/fixtures/fair-waiter-child.ts', ...nodes.urls()], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('waiting') && resolve()));
    await sleep(1_500); // the child is first in line
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const behind = redlock().acquire('fair:crash', { fair: true, wait: 15_000 });
    await sleep(100);
    await held.release();
    const started = performance.now();
    const lock = await behind;
    // Its place lasts 3 of its longest pauses (about 3 s) past its last attempt.
    expect(performance.now() - started).toBeLessThan(6_000);
    await lock.release();
  });

  it('is for plain exclusive locks: other combinations are refused with RedlockConfigError naming fair', async () => {
    const rl = redlock();
    for (const options of [{ fair: 'yes' }, { fair: true, mode: 'read' }, { fair: true, limit: 2 }, { fair: true, fenced: true }]) {
      const error = await rl.acquire('fair:bad', options as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedlockConfigError);
      expect((error as RedlockConfigError).field).toBe('options.fair');
    }
  });
});
