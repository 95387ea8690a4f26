import 'reflect-metadata';
// Some parameters exist only for the key templates that name them.
/* eslint-disable @typescript-eslint/no-unused-vars */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Controller, Inject, Injectable, Module, Param, Post } from '@nestjs/common';
import type { DynamicModule, INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  LockBusyError,
  LockLostError,
  Locked,
  QuorumUnavailableError,
  Redlock,
  RedlockConfigError,
  RedlockModule,
  RedlockService,
} from '../../lib/index.js';
import type { Lock, RedlockModuleOptions, RedlockOptionsFactory } from '../../lib/index.js';
import { InMemoryRedlock, RedlockTestingControls, RedlockTestingModule } from '../../lib/testing/index.js';
import type { RedlockTestingModuleAsyncOptions } from '../../lib/testing/index.js';
import { FakeClock } from '../support/fake-clock.js';

// What only the testing module has: its controls, its options, and the ways into a user's tests.
// The lock behaviour it shares with RedlockModule is in lock-behaviour.ts (run on both engines).

@Injectable()
class Payments {
  runs = 0;

  constructor(readonly redlock: RedlockService) {}

  @Locked('order:<id>', { wait: 0 })
  async pay(id: string): Promise<Lock | undefined> {
    this.runs += 1;
    return this.redlock.current();
  }
}

@Controller('orders')
class PaymentsController {
  @Post(':id/pay')
  @Locked('order:<id>', { wait: 0 })
  pay(@Param('id') id: string): string {
    return `paid ${id}`;
  }
}

function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof RedlockConfigError) return error.field;
    throw error;
  }
  return undefined;
}

describe('RedlockTestingModule with its controls', () => {
  let app: INestApplication;
  let controls: RedlockTestingControls;
  let payments: Payments;
  let service: RedlockService;

  beforeEach(async () => {
    const ref = await Test.createTestingModule({
      imports: [RedlockTestingModule.forRoot({ ttl: 2_000 })],
      controllers: [PaymentsController],
      providers: [Payments],
    }).compile();
    app = ref.createNestApplication({ logger: false });
    await app.init();
    controls = app.get(RedlockTestingControls);
    payments = app.get(Payments);
    service = app.get(RedlockService);
  });
  afterEach(async () => {
    await app?.close();
  });

  it('provides the in-process engine under the core Redlock token, and the controls it carries', () => {
    const redlock = app.get(Redlock);
    expect(redlock).toBeInstanceOf(InMemoryRedlock);
    expect((redlock as unknown as InMemoryRedlock).controls).toBe(controls);
    expect(redlock.clients).toEqual([]);
    expect(redlock.keyPrefix).toBe('lock:');
  });

  it('held() shows who holds what, with kind, fence and time left', async () => {
    const theirs = controls.hold('report:1', { mode: 'read', ttl: 1_000 });
    const ours = await service.acquire('stock:1', { fenced: true });
    const permit = await service.acquire('export', { limit: 2 });
    expect(controls.held().sort((a, b) => a.resource.localeCompare(b.resource))).toEqual([
      { resource: 'export', kind: 'permit', limit: 2, remaining: expect.any(Number), by: 'app' },
      { resource: 'report:1', kind: 'read', remaining: expect.any(Number), by: 'test' },
      { resource: 'stock:1', kind: 'write', fence: ours.fence, remaining: expect.any(Number), by: 'app' },
    ]);
    expect(controls.held('report:1')[0]!.remaining).toBeLessThanOrEqual(1_000);
    theirs.release();
    theirs.release(); // twice is harmless
    await ours.release();
    await permit.release();
    expect(controls.held()).toEqual([]);
  });

  it('hold() of a busy resource throws LockBusyError, as that other owner would see; a bad argument names its field', async () => {
    const lock = await service.acquire('order:9');
    expect(() => controls.hold('order:9')).toThrow(LockBusyError);
    expect(fieldOf(() => controls.hold(''))).toBe('resources');
    expect(fieldOf(() => controls.hold('x', { ttl: 0 }))).toBe('options.ttl');
    expect(fieldOf(() => controls.hold('x', { mode: 'shared' as never }))).toBe('options.mode');
    expect(fieldOf(() => controls.hold('x', { wait: 1 } as never))).toBe('options.wait');
    expect(fieldOf(() => controls.nodesDown(4))).toBe('count');
    await lock.release();
  });

  it('a hold without ttl stays until released; the method skipped by it did not run', async () => {
    const hold = controls.hold('order:1');
    await expect(payments.pay('1')).rejects.toBeInstanceOf(LockBusyError);
    expect(payments.runs).toBe(0);
    expect((await request(app.getHttpServer()).post('/orders/1/pay')).status).toBe(409);
    hold.release();
    expect((await payments.pay('1'))?.resources).toEqual(['order:1']);
  });

  it('one node of three down still locks (release reaches the two left); a semaphore above 1 needs all three', async () => {
    controls.nodesDown(1);
    const lock = await service.acquire('order:2');
    expect(await lock.release()).toEqual({ released: true, nodes: 2 });
    const error = await service.acquire('export', { limit: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuorumUnavailableError);
    expect((error as QuorumUnavailableError).nodeErrors).toEqual([
      { node: 2, address: 'in-memory#2', message: expect.stringContaining('down') },
    ]);
    expect((await request(app.getHttpServer()).post('/orders/2/pay')).status).toBe(201);
  });

  it('nodes going down under a held lock: its extension fails and its signal aborts; the hold lingers until its lease ends', async () => {
    const lock = await service.acquire('order:3', { ttl: 400 });
    controls.nodesDown();
    await expect(lock.extend()).rejects.toBeInstanceOf(LockLostError);
    expect(lock.signal.aborted).toBe(true);
    expect(await lock.release()).toEqual({ released: false, nodes: 0 });
    controls.nodesUp();
    expect(await service.isLocked('order:3')).toBe(true); // the nodes kept it
    await new Promise((resolve) => setTimeout(resolve, 420));
    expect(await service.isLocked('order:3')).toBe(false);
  });

  it('expire() ends a hold behind its holder\'s back: the next extension fails', async () => {
    const lost: unknown[] = [];
    app.get(Redlock).on('lockLost', ({ error }) => lost.push(error));
    const lock = await service.acquire('order:4');
    controls.expire('order:4');
    expect(await service.isLocked('order:4')).toBe(false);
    expect(lock.signal.aborted).toBe(false); // nobody told it
    await expect(lock.extend()).rejects.toThrow(/no longer hold our token/);
    expect(lost).toEqual([lock.signal.reason]);
  });

  it('nodesDown() / nodesUp() emit nodeDown / nodeUp per node, as a real connection that fails and returns', () => {
    const redlock = app.get(Redlock);
    const events: string[] = [];
    redlock.on('nodeDown', ({ node, address, error }) => events.push(`down ${node} ${address} ${error instanceof Error}`));
    redlock.on('nodeUp', ({ node, address }) => events.push(`up ${node} ${address}`));
    controls.nodesDown(2);
    controls.nodesDown(1);
    controls.nodesUp();
    controls.nodesUp(); // nothing was down: nothing to say
    expect(events).toEqual([
      'down 2 in-memory#2 true',
      'down 1 in-memory#1 true',
      'down 0 in-memory#0 true',
      'up 0 in-memory#0',
      'up 1 in-memory#1',
      'up 2 in-memory#2',
    ]);
  });

  it('a telemetry listener that throws becomes a process warning; the call still answers as it would', async () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const redlock = app.get(Redlock);
    const listener = () => {
      throw new Error('listener bug');
    };
    redlock.on('acquireSettled', listener);
    redlock.on('releaseSettled', listener);
    try {
      const lock = await service.acquire('order:t1');
      expect(await lock.release()).toEqual({ released: true, nodes: 3 });
      expect(warn.mock.calls).toEqual([
        ["a Redlock 'acquireSettled' listener threw: listener bug", 'RedlockListenerWarning'],
        ["a Redlock 'releaseSettled' listener threw: listener bug", 'RedlockListenerWarning'],
      ]);
    } finally {
      redlock.off('acquireSettled', listener);
      redlock.off('releaseSettled', listener);
      warn.mockRestore();
    }
  });

  it('reset() brings the nodes back and drops the test\'s holds, not the application\'s', async () => {
    const ours = await service.acquire('order:5');
    controls.hold('order:6');
    controls.nodesDown();
    controls.reset();
    expect(controls.held().map((h) => [h.resource, h.by])).toEqual([['order:5', 'app']]);
    expect((await payments.pay('6'))?.resources).toEqual(['order:6']);
    await ours.release();
  });

  it('shutting the application down releases what is still held and refuses new locks', async () => {
    const lock = await service.acquire('order:7', { autoExtend: true });
    const redlock = app.get(Redlock);
    await app.close();
    expect(lock.signal.aborted).toBe(false);
    expect(lock.remaining).toBe(0);
    expect(controls.held()).toEqual([]);
    await expect(redlock.acquire('order:7')).rejects.toBeInstanceOf(QuorumUnavailableError);
  });
});

describe('RedlockTestingModule.forRoot() options', () => {
  it('are validated as the engine validates them, naming the field', () => {
    expect(fieldOf(() => RedlockTestingModule.forRoot({ ttl: -5 }))).toBe('options.ttl');
    expect(fieldOf(() => RedlockTestingModule.forRoot({ keyPrefix: '' }))).toBe('options.keyPrefix');
    expect(fieldOf(() => RedlockTestingModule.forRoot({ nodes: 0 }))).toBe('options.nodes');
    expect(fieldOf(() => RedlockTestingModule.forRoot({ nodes: ['not a url'] }))).toMatch(/^options\.nodes\[0\]/);
    expect(fieldOf(() => RedlockTestingModule.forRoot({ isGlobal: 'yes' as never }))).toBe('options.isGlobal');
    expect(fieldOf(() => RedlockTestingModule.forRoot({ ttl: 1_000, nodeTimeout: 2_000 }))).toBe('options.nodeTimeout');
    expect(fieldOf(() => RedlockTestingModule.forRoot(null as never))).toBe('options');
    expect(fieldOf(() => new InMemoryRedlock({ retryDelay: 1.5 }))).toBe('options.retryDelay');
  });

  it('take the production node list as it is (only its length counts; nothing connects)', async () => {
    const redlock = new InMemoryRedlock({ nodes: ['redis://10.255.0.1:6379', 'redis://10.255.0.2:6379', 'redis://10.255.0.3:6379', 'redis://10.255.0.4:6379', 'redis://10.255.0.5:6379'] });
    const lock = await redlock.acquire('x');
    expect(await lock.release()).toEqual({ released: true, nodes: 5 });
    redlock.controls.nodesDown(2);
    expect((await (await redlock.acquire('x')).release()).nodes).toBe(3);
    redlock.controls.nodesDown(1);
    await expect(redlock.acquire('x')).rejects.toBeInstanceOf(QuorumUnavailableError);
    await redlock.quit();
  });

  it('accept a clock, so a test can move time by hand: a lease ends when the clock says so', async () => {
    const clock = new FakeClock();
    const redlock = new InMemoryRedlock({ clock, ttl: 1_000 });
    const lock = await redlock.acquire('job');
    expect(lock.remaining).toBe(1_000 - 12); // ttl - drift (1_000 * 0.01 + 2)
    await clock.advance(970);
    expect(lock.signal.aborted).toBe(true); // 10 ms of warning before the end of validity
    expect(await redlock.isLocked('job')).toBe(true);
    await clock.advance(30);
    expect(await redlock.isLocked('job')).toBe(false);
    redlock.controls.hold('job2', { ttl: 200 });
    let granted: Lock | undefined;
    const waiting = redlock.acquire('job2', { wait: 500 }).then((l) => (granted = l));
    await clock.advance(150);
    expect(granted).toBeUndefined();
    await clock.advance(60); // past the other hold's lease: the waiter looks again then
    expect((await waiting).resources).toEqual(['job2']);
    await redlock.quit();
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('RedlockTestingModule.forRootAsync()', () => {
  // Production-shaped configuration: URLs nobody can reach (nothing connects), a ttl of its own.
  const URLS = ['redis://10.255.0.1:6379', 'redis://10.255.0.2:6379', 'redis://10.255.0.3:6379', 'redis://10.255.0.4:6379', 'redis://10.255.0.5:6379'];
  const CONFIG = Symbol('CONFIG');
  @Module({ providers: [{ provide: CONFIG, useValue: { urls: URLS, ttl: 3_000 } }], exports: [CONFIG] })
  class ConfigModule {}

  let created = 0;
  @Injectable()
  class RedlockConfig implements RedlockOptionsFactory {
    constructor() {
      created += 1;
    }
    createRedlockOptions(): RedlockModuleOptions {
      return { nodes: URLS.slice(0, 3), keyPrefix: 'async:' };
    }
  }
  @Module({ providers: [RedlockConfig], exports: [RedlockConfig] })
  class RedlockConfigModule {}

  /** A feature module that does not import the testing module: it reaches RedlockService only if that is global. */
  @Injectable()
  class Consumer {
    constructor(@Inject(RedlockService) readonly redlock: RedlockService) {}
  }
  @Module({ providers: [Consumer], exports: [Consumer] })
  class FeatureModule {}

  const apps: INestApplication[] = [];
  async function start(root: DynamicModule, imports: (DynamicModule | typeof FeatureModule)[] = []): Promise<INestApplication> {
    const ref = await Test.createTestingModule({ imports: [root, ...imports], controllers: [PaymentsController], providers: [Payments] }).compile();
    const app = ref.createNestApplication({ logger: false });
    apps.push(app);
    await app.init();
    return app;
  }
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  async function startupError(root: DynamicModule): Promise<unknown> {
    // Resolves to the error the start-up failed with (an Error saying so when it did not fail).
    return start(root).then(
      () => new Error('expected the start-up to fail'),
      (error: unknown) => error,
    );
  }

  it('useFactory gets what it injects from the modules it imports; the production node list counts by its length', async () => {
    const app = await start(
      RedlockTestingModule.forRootAsync({
        imports: [ConfigModule],
        inject: [CONFIG],
        useFactory: async (config: { urls: string[]; ttl: number }) => ({ nodes: config.urls, ttl: config.ttl, keyPrefix: 'factory:' }),
      }),
    );
    expect(app.get(Redlock)).toBeInstanceOf(InMemoryRedlock);
    expect(app.get(Redlock).keyPrefix).toBe('factory:');
    expect((await app.get(Payments).pay('a1'))?.resources).toEqual(['order:a1']);
    const service = app.get(RedlockService);
    const lock = await service.acquire('order:a1');
    expect(lock.remaining).toBeLessThanOrEqual(3_000); // the factory's ttl
    expect(lock.remaining).toBeGreaterThan(2_500);
    expect(await lock.release()).toEqual({ released: true, nodes: 5 });
    // Five simulated nodes: two may be down, three may not.
    const controls = app.get(RedlockTestingControls);
    controls.nodesDown(2);
    expect(await (await service.acquire('order:a2')).release()).toEqual({ released: true, nodes: 3 });
    controls.nodesDown(1);
    expect((await request(app.getHttpServer()).post('/orders/a3/pay')).status).toBe(503);
    controls.nodesUp();
    const hold = controls.hold('order:a3');
    expect((await request(app.getHttpServer()).post('/orders/a3/pay')).status).toBe(409);
    hold.release();
    expect((await request(app.getHttpServer()).post('/orders/a3/pay')).status).toBe(201);
  });

  it('takes RedlockModule.forRootAsync\'s options unchanged: useClass makes the options class once', async () => {
    // Typed as RedlockModule's own argument: the same object goes to either module.
    const asyncOptions: Parameters<typeof RedlockModule.forRootAsync>[0] = { useClass: RedlockConfig };
    created = 0;
    const app = await start(RedlockTestingModule.forRootAsync(asyncOptions));
    expect(created).toBe(1);
    expect(app.get(Redlock).keyPrefix).toBe('async:');
    expect((await app.get(Payments).pay('c1'))?.resources).toEqual(['order:c1']);
  });

  it('useExisting reuses the provider of an imported module instead of making another', async () => {
    created = 0;
    const app = await start(RedlockTestingModule.forRootAsync({ imports: [RedlockConfigModule], useExisting: RedlockConfig }));
    expect(created).toBe(1);
    expect(app.get(Redlock).keyPrefix).toBe('async:');
  });

  it('nodes as a count; the module is global by default and honours isGlobal: false', async () => {
    const app = await start(RedlockTestingModule.forRootAsync({ useFactory: () => ({ nodes: 1 }) }), [FeatureModule]);
    const lock = await app.get(Consumer).redlock.acquire('order:g1');
    expect(await lock.release()).toEqual({ released: true, nodes: 1 });
    // FeatureModule does not import the testing module: without isGlobal it cannot inject RedlockService.
    const error = await start(RedlockTestingModule.forRootAsync({ isGlobal: false, useFactory: () => ({}) }), [FeatureModule]).catch((e: unknown) => e);
    expect(String(error)).toMatch(/RedlockService/);
  });

  it('a fresh engine per application, and shutting it down releases what it holds', async () => {
    const options: RedlockTestingModuleAsyncOptions = { useFactory: () => ({ ttl: 2_000 }) };
    const first = await start(RedlockTestingModule.forRootAsync(options));
    const second = await start(RedlockTestingModule.forRootAsync(options));
    expect(first.get(Redlock)).not.toBe(second.get(Redlock));
    const lock = await first.get(RedlockService).acquire('order:f1', { autoExtend: true });
    expect(await second.get(RedlockService).isLocked('order:f1')).toBe(false);
    const controls = first.get(RedlockTestingControls);
    await first.close();
    apps.splice(apps.indexOf(first), 1);
    expect(lock.remaining).toBe(0);
    expect(controls.held()).toEqual([]);
  });

  it.each([
    [{ ttl: -1 }, 'options.ttl'],
    [{ nodes: 0 }, 'options.nodes'],
    [{ nodes: ['not a url'] }, 'options.nodes[0]'],
    [{ retryDelay: 1.5 }, 'options.retryDelay'],
    [{ tll: 1_000 }, 'options.tll'],
    [{ wakeUps: 'no' }, 'options.wakeUps'],
    [null, 'options'],
    [undefined, 'options'],
  ])('bad options from the factory (%j) fail the start-up with RedlockConfigError naming %s', async (made, field) => {
    const error = await startupError(RedlockTestingModule.forRootAsync({ useFactory: async () => made as never }));
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).field).toMatch(new RegExp(`^${field.replace(/[.[\]]/g, '\\$&')}`));
  });

  it('a malformed call throws at once, naming the field', () => {
    const factory = () => ({});
    expect(fieldOf(() => RedlockTestingModule.forRootAsync(null as never))).toBe('options');
    expect(fieldOf(() => RedlockTestingModule.forRootAsync({}))).toBe('options');
    expect(fieldOf(() => RedlockTestingModule.forRootAsync({ useFactory: 42 } as never))).toBe('options.useFactory');
    expect(fieldOf(() => RedlockTestingModule.forRootAsync({ useClass: 'RedlockConfig' } as never))).toBe('options.useClass');
    expect(fieldOf(() => RedlockTestingModule.forRootAsync({ useFactory: factory, useClass: RedlockConfig }))).toBe('options.useClass');
    expect(fieldOf(() => RedlockTestingModule.forRootAsync({ useFactory: factory, inject: CONFIG } as never))).toBe('options.inject');
    expect(fieldOf(() => RedlockTestingModule.forRootAsync({ useFactory: factory, imports: ConfigModule } as never))).toBe('options.imports');
    expect(fieldOf(() => RedlockTestingModule.forRootAsync({ useFactory: factory, isGlobal: 'yes' } as never))).toBe('options.isGlobal');
    expect(fieldOf(() => RedlockTestingModule.forRootAsync({ useFactory: factory, ttl: 1_000 } as never))).toBe('options.ttl');
  });
});

describe('ways into a test', () => {
  @Module({ imports: [RedlockModule.forRoot({ nodes: ['redis://127.0.0.1:1'] })], controllers: [PaymentsController], providers: [Payments] })
  class AppModule {}

  it('overrideProvider(Redlock) puts the in-process engine under an unchanged AppModule: no connection is made', async () => {
    const engine = new InMemoryRedlock();
    const ref = await Test.createTestingModule({ imports: [AppModule] }).overrideProvider(Redlock).useValue(engine).compile();
    const app = ref.createNestApplication({ logger: false });
    await app.init();
    try {
      const hold = engine.controls.hold('order:1');
      expect((await request(app.getHttpServer()).post('/orders/1/pay')).status).toBe(409);
      hold.release();
      expect((await request(app.getHttpServer()).post('/orders/1/pay')).status).toBe(201);
      expect((await app.get(Payments).pay('2'))?.resources).toEqual(['order:2']);
    } finally {
      await app.close();
    }
  });

  it('a RedlockService mocked by hand does not reach @Locked: "no RedlockModule has started"', async () => {
    const fake = { acquire: async () => ({ release: async () => ({ released: true, nodes: 1 }) }), current: () => undefined };
    const ref = await Test.createTestingModule({ providers: [Payments, { provide: RedlockService, useValue: fake }] }).compile();
    await ref.init();
    try {
      const error = await ref.get(Payments).pay('1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedlockConfigError);
      expect((error as Error).message).toMatch(/no RedlockModule has started/);
    } finally {
      await ref.close();
    }
  });
});
