import 'reflect-metadata';
// Some parameters exist only for the key templates that name them.
/* eslint-disable @typescript-eslint/no-unused-vars */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Injectable, Param, Post } from '@nestjs/common';
import type { INestApplication, Type } from '@nestjs/common';
import request from 'supertest';
import { LockAbortedError, LockBusyError, LockLostError, Locked, QuorumUnavailableError, Redlock, RedlockConfigError, RedlockService } from '../../lib/index.js';
import type { AcquireReport, ExtendReport, Lock, LockMode, RedlockError, RedlockEvents, ReleaseReport } from '../../lib/index.js';

/**
 * One behaviour suite for every engine the NestJS layer can run on: RedlockTestingModule's
 * in-process engine and RedlockModule on real redis-server nodes run the very same tests, so the
 * fake cannot drift from what users get in production without a test failing.
 */

/** Another owner's hold, made outside the application under test. */
export interface ElsewhereHold {
  readonly fence?: number;
  release(): Promise<void>;
}

export interface ElsewhereOptions {
  /** Default: held until released. */
  ttl?: number;
  mode?: LockMode;
  limit?: number;
  fenced?: boolean;
}

/** A running application over one engine, and the levers a test pulls from outside it. */
export interface LockWorld {
  readonly app: INestApplication;
  holdElsewhere(resources: string | string[], options?: ElsewhereOptions): Promise<ElsewhereHold>;
  /** Too few nodes answer from now on (at least a majority of the 3 fail). */
  nodesDown(): Promise<void>;
  nodesUp(): Promise<void>;
  close(): Promise<void>;
}

/** The application each world runs: these controllers and providers, the module with these options. */
export interface WorldParts {
  readonly controllers: Type[];
  readonly providers: Type[];
  readonly options: { readonly ttl: number; readonly wait: number };
}

export type MakeWorld = (parts: WorldParts) => Promise<LockWorld>;

/**
 * Records one event of the application's engine (the core Redlock token: Redlock on real nodes,
 * InMemoryRedlock in process) while a test runs, and stops listening after it.
 */
async function listening<E extends keyof RedlockEvents, T>(
  app: INestApplication,
  event: E,
  body: (seen: RedlockEvents[E][0][]) => Promise<T>,
): Promise<T> {
  const engine = app.get(Redlock);
  const seen: RedlockEvents[E][0][] = [];
  const listener = ((info: RedlockEvents[E][0]) => void seen.push(info)) as never;
  engine.on(event, listener);
  try {
    return await body(seen);
  } finally {
    engine.off(event, listener);
  }
}

/** A promise the test opens when a held call may finish. */
function gate(): { readonly shut: Promise<void>; open(): void } {
  let open!: () => void;
  const shut = new Promise<void>((resolve) => (open = resolve));
  return { shut, open };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function rejectionOf(promise: Promise<unknown>): Promise<RedlockError> {
  try {
    await promise;
  } catch (error) {
    return error as RedlockError;
  }
  throw new Error('expected a rejection');
}

@Injectable()
class Orders {
  jobRuns = 0;

  constructor(readonly redlock: RedlockService) {}

  @Locked('order:<id>')
  async payNow(id: string): Promise<Lock | undefined> {
    return this.redlock.current();
  }

  @Locked('order:<id>', { wait: 2_000 })
  async payWaiting(id: string): Promise<Lock | undefined> {
    return this.redlock.current();
  }

  @Locked('job:<name>', { onBusy: 'skip' })
  async job(name: string): Promise<string> {
    this.jobRuns += 1;
    return 'ran';
  }

  @Locked('doc:<id>')
  async edit(id: string): Promise<{ outer: Lock | undefined; inner: Lock | undefined }> {
    const outer = this.redlock.current();
    return { outer, inner: await this.read(id) };
  }

  @Locked('doc:<id>', { mode: 'read' })
  async read(id: string): Promise<Lock | undefined> {
    return this.redlock.current();
  }

  @Locked('stock:<sku>', { fenced: true })
  async reserve(sku: string): Promise<number | undefined> {
    return this.redlock.current()?.fence;
  }

  readonly served: number[] = [];

  @Locked('queue:<id>', { fair: true, wait: 5_000 })
  async serve(id: string, turn: number): Promise<void> {
    this.served.push(turn);
    await sleep(20);
  }

  @Locked('export:<name>', { limit: 2 })
  async export(name: string, inside: () => Promise<void>): Promise<Lock | undefined> {
    const lock = this.redlock.current();
    await inside();
    return lock;
  }
}

@Controller('orders')
class OrdersController {
  @Post(':id/pay')
  @Locked('order:<id>')
  pay(@Param('id') id: string): { paid: string } {
    return { paid: id };
  }

  @Post(':id/sync')
  @Locked('sync:<id>', { onBusy: 'skip' })
  sync(@Param('id') id: string): { synced: string } {
    return { synced: id };
  }
}

export function describeLockBehaviour(engine: string, makeWorld: MakeWorld): void {
  describe(`@Locked and RedlockService on ${engine}`, () => {
    let world: LockWorld;
    let orders: Orders;
    let service: RedlockService;
    const http = () => request(world.app.getHttpServer());

    beforeAll(async () => {
      world = await makeWorld({ controllers: [OrdersController], providers: [Orders], options: { ttl: 5_000, wait: 0 } });
      orders = world.app.get(Orders);
      service = world.app.get(RedlockService);
    });
    afterAll(async () => {
      await world?.close();
    });

    describe('busy', () => {
      it('is a 409 with Retry-After from the holder\'s lease, and a 201 once it is free', async () => {
        const hold = await world.holdElsewhere('order:h1', { ttl: 4_000 });
        const busy = await http().post('/orders/h1/pay');
        expect(busy.status).toBe(409);
        expect(busy.body).toMatchObject({ statusCode: 409, code: 'LOCK_BUSY' });
        expect(Number(busy.headers['retry-after'])).toBeGreaterThanOrEqual(3);
        expect(Number(busy.headers['retry-after'])).toBeLessThanOrEqual(4);
        await hold.release();
        const paid = await http().post('/orders/h1/pay');
        expect(paid.status).toBe(201);
        expect(paid.body).toEqual({ paid: 'h1' });
        // Released before the response: the next request finds it free.
        expect((await http().post('/orders/h1/pay')).status).toBe(201);
      });

      it('is a LockBusyError with resources, attempts, waitedMs and retryAfterMs', async () => {
        const hold = await world.holdElsewhere('order:h2', { ttl: 4_000 });
        try {
          const once = await rejectionOf(orders.payNow('h2'));
          expect(once).toBeInstanceOf(LockBusyError);
          const busy = once as LockBusyError;
          expect(busy.code).toBe('LOCK_BUSY');
          expect(busy.resources).toEqual(['order:h2']);
          expect(busy.attempts).toBe(1);
          expect(busy.retryAfterMs).toBeGreaterThan(3_000);
          expect(busy.retryAfterMs).toBeLessThanOrEqual(4_000);
          expect(Number.isInteger(busy.retryAfterMs)).toBe(true); // whole ms, as a node's PTTL

          const waited = (await rejectionOf(service.acquire('order:h2', { wait: 200 }))) as LockBusyError;
          expect(waited).toBeInstanceOf(LockBusyError);
          expect(waited.attempts).toBeGreaterThanOrEqual(2);
          expect(waited.waitedMs).toBeGreaterThanOrEqual(190);
          expect(waited.waitedMs).toBeLessThan(1_500);
          expect(await service.tryAcquire('order:h2')).toBeNull();
        } finally {
          await hold.release();
        }
      });

      it('waits, then gets the lock as soon as the other owner releases it', async () => {
        const hold = await world.holdElsewhere('order:w1', { ttl: 10_000 });
        setTimeout(() => void hold.release(), 150);
        const started = performance.now();
        const lock = await orders.payWaiting('w1');
        const waited = performance.now() - started;
        expect(lock?.resources).toEqual(['order:w1']);
        expect(waited).toBeGreaterThanOrEqual(140);
        expect(waited).toBeLessThan(1_000); // woken by the release, not by a fallback timer
      });
      it('a release wakes one waiting writer, the longest waiting, not all of them', async () => {
        await listening(world.app, 'acquireSettled', async (seen: AcquireReport[]) => {
          const hold = await world.holdElsewhere('herd:1');
          const first = service.acquire('herd:1', { wait: 5_000 });
          await sleep(50);
          const second = service.acquire('herd:1', { wait: 5_000 });
          await sleep(50);
          await hold.release();
          const firstLock = await first;
          await sleep(100); // the second sleeps on: that release was not for it
          await firstLock.release();
          const secondLock = await second;
          await secondLock.release();
          const granted = seen.filter((report) => report.outcome === 'granted');
          expect(granted.map((report) => report.lock)).toEqual([firstLock, secondLock]);
          // Its first attempt, then the one the first waiter's release woke it for.
          expect(granted[1]!.attempts).toBe(2);
          expect(granted[1]!.durationMs).toBeLessThan(900); // before its fallback timer (a second)
        });
      });
    });

    describe('leases', () => {
      it('a hold that is not extended ends by itself at its ttl', async () => {
        await world.holdElsewhere('order:t1', { ttl: 300 });
        const started = performance.now();
        const lock = await orders.payWaiting('t1');
        expect(lock?.resources).toEqual(['order:t1']);
        expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      });

      it('an own lock not extended aborts its signal before its validity ends, then cannot be extended', async () => {
        const started = performance.now();
        const lock = await service.acquire('lease:t2', { ttl: 300 });
        expect(lock.remaining).toBeGreaterThan(200);
        await new Promise((resolve) => lock.signal.addEventListener('abort', resolve, { once: true }));
        expect(performance.now() - started).toBeLessThan(300);
        expect(lock.signal.reason).toBeInstanceOf(LockLostError);
        expect(lock.remaining).toBe(0);
        await sleep(320 - (performance.now() - started));
        const next = await service.tryAcquire('lease:t2');
        expect(next).not.toBeNull();
        await expect(lock.extend()).rejects.toBeInstanceOf(LockLostError);
        expect(await lock.release()).toEqual({ released: false, nodes: 0 });
        expect(await next!.release()).toEqual({ released: true, nodes: 3 });
      });

      it('extend() moves the deadline; release() says how many nodes let go; isLocked() follows', async () => {
        const lock = await service.acquire('lease:t3', { ttl: 1_000 });
        const first = lock.validUntil;
        expect(lock.value).toMatch(/^[0-9a-f]{32}$/);
        expect(lock.mode).toBe('write');
        await sleep(20);
        await lock.extend(2_000);
        expect(lock.validUntil).toBeGreaterThan(first + 900);
        expect(await service.isLocked('lease:t3')).toBe(true);
        expect(await lock.release()).toEqual({ released: true, nodes: 3 });
        expect(await lock.release()).toEqual({ released: true, nodes: 3 });
        expect(await service.isLocked('lease:t3')).toBe(false);
      });

      it('using() keeps the lock alive past its ttl while the routine runs, then releases it', async () => {
        const result = await service.using('lease:t4', async (lock) => {
          await sleep(450);
          expect(lock.signal.aborted).toBe(false);
          expect(await service.isLocked('lease:t4')).toBe(true);
          return service.current() === lock;
        }, { ttl: 300 });
        expect(result).toBe(true);
        expect(await service.isLocked('lease:t4')).toBe(false);
      });
    });

    describe('several resources', () => {
      it('one lock takes all of them or none: busy while any is held elsewhere, and leaves nothing behind', async () => {
        const hold = await world.holdElsewhere('multi:b', { ttl: 4_000 });
        const busy = (await rejectionOf(service.acquire(['multi:a', 'multi:b']))) as LockBusyError;
        expect(busy).toBeInstanceOf(LockBusyError);
        expect(busy.resources).toEqual(['multi:a', 'multi:b']);
        expect(busy.retryAfterMs).toBeGreaterThan(3_000);
        expect(busy.retryAfterMs).toBeLessThanOrEqual(4_000);
        expect(await service.isLocked('multi:a')).toBe(false);
        await hold.release();
        const lock = await service.acquire(['multi:a', 'multi:b']);
        expect(lock.resources).toEqual(['multi:a', 'multi:b']);
        expect(await service.isLocked('multi:a')).toBe(true);
        expect(await service.tryAcquire('multi:b')).toBeNull();
        expect(await lock.release()).toEqual({ released: true, nodes: 3 });
        expect(await service.isLocked('multi:b')).toBe(false);
      });

      it('Retry-After hints for shared holders: a writer behind readers, a full semaphore', async () => {
        const reader = await world.holdElsewhere('hint:r', { mode: 'read', ttl: 4_000 });
        const permit = await world.holdElsewhere('hint:s', { limit: 1, ttl: 3_000 });
        try {
          const writer = (await rejectionOf(service.acquire('hint:r'))) as LockBusyError;
          expect(writer).toBeInstanceOf(LockBusyError);
          expect(writer.retryAfterMs).toBeGreaterThan(3_000);
          expect(writer.retryAfterMs).toBeLessThanOrEqual(4_000);
          // The writer gave up: it no longer keeps new readers out.
          await (await service.acquire('hint:r', { mode: 'read' })).release();
          const full = (await rejectionOf(service.acquire('hint:s', { limit: 1 }))) as LockBusyError;
          expect(full).toBeInstanceOf(LockBusyError);
          expect(full.retryAfterMs).toBeGreaterThan(2_000);
          expect(full.retryAfterMs).toBeLessThanOrEqual(3_000);
        } finally {
          await reader.release();
          await permit.release();
        }
      });

      it('using() hands back the routine\'s error unchanged and still releases', async () => {
        const failure = new Error('the routine failed');
        await expect(service.using(['use:a', 'use:b'], async () => {
          expect(await service.isLocked('use:b')).toBe(true);
          throw failure;
        })).rejects.toBe(failure);
        expect(await service.isLocked('use:a')).toBe(false);
        expect(await service.isLocked('use:b')).toBe(false);
      });
    });

    describe("onBusy: 'skip'", () => {
      it('does not run the method and returns undefined (HTTP: the route\'s own status, empty body)', async () => {
        const hold = await world.holdElsewhere(['job:nightly', 'sync:s1']);
        expect(await orders.job('nightly')).toBeUndefined();
        expect(orders.jobRuns).toBe(0);
        const skipped = await http().post('/orders/s1/sync');
        expect(skipped.status).toBe(201); // a POST route's success status
        expect(skipped.text).toBe('');
        await hold.release();
        expect(await orders.job('nightly')).toBe('ran');
        expect(orders.jobRuns).toBe(1);
        expect((await http().post('/orders/s1/sync')).body).toEqual({ synced: 's1' });
      });
    });

    describe('the lock family', () => {
      it('re-enters write -> read in the same async context: current() is the outer write lock', async () => {
        const { outer, inner } = await orders.edit('d1');
        expect(outer?.mode).toBe('write');
        expect(inner).toBe(outer);
      });

      it('lets readers share, keeps a writer out while they read', async () => {
        const reader = await world.holdElsewhere('doc:d2', { mode: 'read' });
        try {
          expect((await orders.read('d2'))?.mode).toBe('read');
          await expect(orders.edit('d2')).rejects.toBeInstanceOf(LockBusyError);
        } finally {
          await reader.release();
        }
        expect((await orders.edit('d2')).outer?.mode).toBe('write');
      });

      it('hands current() a fence larger than every earlier holder\'s, ours or another owner\'s', async () => {
        const first = await orders.reserve('s1');
        const second = await orders.reserve('s1');
        expect(first).toBeGreaterThan(0);
        expect(second).toBeGreaterThan(first!);
        const other = await world.holdElsewhere('stock:s1', { fenced: true });
        expect(other.fence).toBeGreaterThan(second!);
        await expect(orders.reserve('s1')).rejects.toBeInstanceOf(LockBusyError);
        await other.release();
        expect(await orders.reserve('s1')).toBeGreaterThan(other.fence!);
      });

      it('admits `limit` holders of a semaphore at once; a permit held elsewhere counts', async () => {
        const inside = gate();
        const holders = [orders.export('e1', () => inside.shut), orders.export('e1', () => inside.shut)];
        await sleep(50);
        await expect(orders.export('e1', async () => undefined)).rejects.toBeInstanceOf(LockBusyError);
        const other = await rejectionOf(service.acquire('export:e1', { limit: 3 }));
        expect(other).toBeInstanceOf(RedlockConfigError);
        expect((other as RedlockConfigError).field).toBe('limit');
        inside.open();
        expect((await Promise.all(holders)).map((lock) => lock?.limit)).toEqual([2, 2]);

        const permit = await world.holdElsewhere('export:e2', { limit: 2 });
        expect((await orders.export('e2', async () => undefined))?.limit).toBe(2);
        const second = gate();
        const holding = orders.export('e2', () => second.shut);
        await sleep(50);
        await expect(orders.export('e2', async () => undefined)).rejects.toBeInstanceOf(LockBusyError);
        second.open();
        await holding;
        await permit.release();
      });
    });

    describe('fair: true', () => {
      it('serves waiters in arrival order once the holder lets go', async () => {
        const hold = await world.holdElsewhere('queue:f1');
        const calls: Promise<void>[] = [];
        for (let turn = 0; turn < 5; turn += 1) {
          calls.push(orders.serve('f1', turn));
          await sleep(40); // each one is in line before the next comes
        }
        await hold.release();
        await Promise.all(calls);
        expect(orders.served).toEqual([0, 1, 2, 3, 4]);
      });

      it('a waiter first in line holds later fair callers back, even from a resource that is free; plain callers are not held back', async () => {
        const hold = await world.holdElsewhere('queue:y');
        // First in the lines of x and y, kept waiting by y's holder.
        const first = service.acquire(['queue:x', 'queue:y'], { fair: true, wait: 5_000 });
        await sleep(50);
        expect(await service.tryAcquire('queue:x', { fair: true })).toBeNull();
        const plain = await service.tryAcquire('queue:x');
        expect(plain).not.toBeNull();
        await plain!.release();
        let behindGranted = false;
        const behind = service.acquire('queue:x', { fair: true, wait: 5_000 }).then((lock) => {
          behindGranted = true;
          return lock;
        });
        await sleep(50);
        await hold.release();
        const lock = await first;
        expect(lock.resources).toEqual(['queue:x', 'queue:y']);
        await sleep(100);
        expect(behindGranted).toBe(false);
        const released = performance.now();
        await lock.release();
        await (await behind).release();
        expect(performance.now() - released).toBeLessThan(500); // named by the release, not a fallback timer
      });

      it('a waiter that gives up leaves the line at once: the one behind it is next', async () => {
        const hold = await world.holdElsewhere('queue:a');
        const quitter = new AbortController();
        const first = service.acquire('queue:a', { fair: true, wait: 5_000, signal: quitter.signal }).catch((e: unknown) => e);
        await sleep(50);
        const second = service.acquire('queue:a', { fair: true, wait: 5_000 });
        await sleep(50);
        quitter.abort();
        expect(await first).toBeInstanceOf(LockAbortedError);
        // Leaving the line woke the one behind (now first, still kept out): let it go back to sleep, so
        // the plain holder's release below finds it asleep (a fair waiter mid-attempt misses a plain release).
        await sleep(50);
        const released = performance.now();
        await hold.release();
        const lock = await second;
        expect(performance.now() - released).toBeLessThan(500);
        await lock.release();
      });

      it('is for plain exclusive locks only: RedlockConfigError naming options.fair', async () => {
        for (const options of [{ fair: 'yes' }, { fair: true, mode: 'read' }, { fair: true, limit: 2 }, { fair: true, fenced: true }]) {
          const error = await rejectionOf(service.acquire('queue:bad', options as never));
          expect(error).toBeInstanceOf(RedlockConfigError);
          expect((error as RedlockConfigError).field).toBe('options.fair');
        }
      });
    });

    describe('events', () => {
      it('acquireSettled: granted, busy (acquire and tryAcquire), with attempts and the nodes\' votes', async () => {
        await listening(world.app, 'acquireSettled', async (seen: AcquireReport[]) => {
          const lock = await service.acquire('event:a1', { fenced: true });
          const hold = await world.holdElsewhere('event:a2', { ttl: 4_000 });
          await rejectionOf(service.acquire('event:a2', { wait: 0 }));
          expect(await service.tryAcquire('event:a2')).toBeNull();
          await hold.release();
          await lock.release();
          const [granted, busy, tried] = seen;
          expect(seen).toHaveLength(3);
          expect(granted).toMatchObject({ resources: ['event:a1'], mode: 'write', fenced: true, once: false, outcome: 'granted', attempts: 1, lock });
          expect(granted!.votes.yes).toBeGreaterThanOrEqual(2);
          expect(granted!.votes).toMatchObject({ no: 0, errors: 0 });
          expect(granted!.validityMs).toBeGreaterThan(4_000);
          expect(granted!.error).toBeUndefined();
          expect(busy).toMatchObject({ resources: ['event:a2'], once: false, outcome: 'busy', attempts: 1, votes: { yes: 0, errors: 0 } });
          expect(busy!.votes.no).toBeGreaterThanOrEqual(2);
          expect(busy!.error).toBeInstanceOf(LockBusyError);
          expect(busy!.lock).toBeUndefined();
          expect(tried).toMatchObject({ once: true, outcome: 'busy', attempts: 1 });
          expect(tried!.error).toBeUndefined();
          for (const report of seen) expect(report.durationMs).toBeGreaterThanOrEqual(0);
        });
      });

      it('acquireSettled counts the attempts of a call that waited', async () => {
        await listening(world.app, 'acquireSettled', async (seen: AcquireReport[]) => {
          const hold = await world.holdElsewhere('event:w1');
          setTimeout(() => void hold.release(), 150);
          const lock = await service.acquire('event:w1', { wait: 2_000 });
          await lock.release();
          expect(seen).toHaveLength(1);
          expect(seen[0]).toMatchObject({ outcome: 'granted', lock });
          expect(seen[0]!.attempts).toBeGreaterThanOrEqual(2);
          expect(seen[0]!.durationMs).toBeGreaterThanOrEqual(140);
        });
      });

      it('extendSettled and releaseSettled for a lock made while someone listens', async () => {
        const extended: ExtendReport[] = [];
        await listening(world.app, 'releaseSettled', async (released: ReleaseReport[]) => {
          await listening(world.app, 'extendSettled', async (seen) => {
            const lock = await service.acquire('event:e1', { ttl: 1_000 });
            await lock.extend(2_000);
            expect(await lock.release()).toEqual({ released: true, nodes: 3 });
            await expect(lock.extend()).rejects.toBeInstanceOf(LockLostError);
            extended.push(...seen);
            expect(released).toEqual([{ lock, outcome: 'released', votes: { yes: 3, no: 0, errors: 0 }, durationMs: expect.any(Number) }]);
            expect(extended).toHaveLength(2);
            expect(extended[0]).toMatchObject({ lock, outcome: 'granted', votes: { no: 0, errors: 0 } });
            expect(extended[0]!.votes.yes).toBeGreaterThanOrEqual(2);
            expect(extended[0]!.validityMs).toBeGreaterThan(1_500);
            // Refused before asking the nodes: no votes.
            expect(extended[1]).toMatchObject({ lock, outcome: 'lost', votes: { yes: 0, no: 0, errors: 0 }, validityMs: 0 });
            expect(extended[1]!.error).toBeInstanceOf(LockLostError);
          });
        });
      });

      it('lockLost when a lease ends without an extension, with the error the signal aborted with', async () => {
        await listening(world.app, 'lockLost', async (seen) => {
          const lock = await service.acquire('event:l1', { ttl: 300 });
          await new Promise((resolve) => lock.signal.addEventListener('abort', resolve, { once: true }));
          expect(seen).toHaveLength(1);
          expect(Object.keys(seen[0]!).sort()).toEqual(['error', 'resources']);
          expect(seen[0]!.resources).toEqual(['event:l1']);
          expect(seen[0]!.error).toBe(lock.signal.reason);
          expect(seen[0]!.error).toBeInstanceOf(LockLostError);
          await sleep(320);
          expect(await lock.release()).toEqual({ released: false, nodes: 0 });
          expect(seen).toHaveLength(1); // once
        });
      });

      it('nothing is reported for a lock made before anyone listened', async () => {
        const lock = await service.acquire('event:n1');
        await listening(world.app, 'releaseSettled', async (seen) => {
          await lock.release();
          expect(seen).toEqual([]);
        });
      });
    });

    describe('bad arguments', () => {
      it('throw RedlockConfigError naming the field, as the engine does', async () => {
        const fieldOf = async (call: Promise<unknown>) => ((await rejectionOf(call)) as RedlockConfigError).field;
        expect(await fieldOf(service.acquire('x', { ttl: -1 }))).toBe('options.ttl');
        expect(await fieldOf(service.acquire(''))).toBe('resources');
        expect(await fieldOf(service.acquire(['a', 'a']))).toBe('resources');
        expect(await fieldOf(service.acquire('x', { mode: 'read', limit: 2 }))).toBe('options.limit');
        expect(await fieldOf(service.acquire('x', { fenced: true, mode: 'read' }))).toBe('options.fenced');
        expect(await fieldOf(service.acquire('x', { colour: 'red' } as never))).toBe('options.colour');
        expect(await fieldOf(service.isLocked(42 as never))).toBe('resource');
      });
    });

    // Last: taking nodes away is the roughest thing a test does to a world.
    describe('unavailable nodes', () => {
      it('are a 503 and a QuorumUnavailableError, never a wait; locking works again when they return', async () => {
        const heldBefore = await service.acquire('order:u2');
        await world.nodesDown();
        try {
          // A release that reaches one node of three: releaseIncomplete, and the lock lingers.
          await listening(world.app, 'releaseIncomplete', async (seen) => {
            const result = await heldBefore.release();
            expect(result).toEqual({ released: false, nodes: 1 });
            expect(seen).toEqual([{ resources: ['order:u2'], result }]);
          });
          await listening(world.app, 'acquireSettled', async (seen: AcquireReport[]) => {
            await rejectionOf(service.acquire('order:u3'));
            expect(seen).toHaveLength(1);
            expect(seen[0]).toMatchObject({ outcome: 'unavailable', attempts: 1, votes: { yes: 1, no: 0, errors: 2 } });
            expect(seen[0]!.error).toBeInstanceOf(QuorumUnavailableError);
          });
          const started = performance.now();
          const unavailable = await http().post('/orders/u1/pay');
          expect(unavailable.status).toBe(503);
          expect(unavailable.body).toMatchObject({ statusCode: 503, code: 'QUORUM_UNAVAILABLE' });
          const error = await rejectionOf(service.acquire('order:u1', { wait: 3_000 }));
          expect(error).toBeInstanceOf(QuorumUnavailableError);
          expect((error as QuorumUnavailableError).nodeErrors.length).toBeGreaterThanOrEqual(2);
          await expect(service.isLocked('order:u1')).rejects.toBeInstanceOf(QuorumUnavailableError);
          expect(performance.now() - started).toBeLessThan(2_500);
        } finally {
          await world.nodesUp();
        }
        // Real nodes count again once they answer (a PING the engine left in flight): soon, not at once.
        const deadline = performance.now() + 3_000;
        let status = (await http().post('/orders/u1/pay')).status;
        while (status !== 201 && performance.now() < deadline) {
          await sleep(50);
          status = (await http().post('/orders/u1/pay')).status;
        }
        expect(status).toBe(201);
      });
    });
  });
}
