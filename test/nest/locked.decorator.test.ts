import 'reflect-metadata';
// Some parameters exist only for the key templates that name them.
/* eslint-disable @typescript-eslint/no-unused-vars */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Injectable, SetMetadata } from '@nestjs/common';
import { Interval, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import {
  Locked,
  LockBusyError,
  Redlock,
  RedlockConfigError,
  RedlockModule,
  RedlockService,
} from '../../lib/index.js';
import type { Lock } from '../../lib/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';
import { keysOn } from './lock-keys.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

@Injectable()
class Ledger {
  constructor(readonly redlock: RedlockService) {}

  @Locked('order:<orderId>', { wait: 0 })
  async settle(orderId: string, inside?: () => Promise<unknown>): Promise<unknown> {
    return inside ? inside() : this.redlock.current();
  }
}

@Injectable()
class Orders {
  runs = 0;
  constructor(
    readonly ledger: Ledger,
    readonly redlock: RedlockService,
  ) {}

  @Locked('order:<id>', { wait: 0 })
  async pay(id: string): Promise<{ outer: Lock | undefined; inner: unknown }> {
    const outer = this.redlock.current();
    // Same key, another provider: re-enters instead of waiting on itself.
    return { outer, inner: await this.ledger.settle(id) };
  }

  @Locked('tree:<id>', { wait: 0 })
  async walk(id: string, depth: number): Promise<number> {
    return depth === 0 ? 0 : 1 + (await this.walk(id, depth - 1));
  }

  @Locked(['order:<id>', 'stock:<sku>'], { wait: 0 })
  async reserve(id: string, sku: string): Promise<readonly string[] | undefined> {
    return this.redlock.current()?.resources;
  }

  @Locked('report:<name>', { wait: 0, onBusy: 'skip' })
  async report(name: string): Promise<string> {
    this.runs++;
    return `report ${name}`;
  }

  @Locked('slow:<id>', { ttl: 300 })
  async slow(id: string, ms: number): Promise<{ remaining: number; lost: boolean }> {
    await sleep(ms);
    const lock = this.redlock.current()!;
    return { remaining: lock.remaining, lost: lock.signal.aborted };
  }

  @Locked((self: Orders, order: { id: number }) => `order:${order.id}`)
  async ship(order: { id: number }): Promise<readonly string[] | undefined> {
    return this.redlock.current()?.resources;
  }

  @Locked('fail:<id>')
  async fail(id: string, error: Error): Promise<never> {
    throw error;
  }
}

let cluster: RedisNodes;
let ref: TestingModule;
let orders: Orders;
beforeAll(async () => {
  cluster = await startRedisNodes(3);
  ref = await Test.createTestingModule({
    imports: [RedlockModule.forRoot({ nodes: cluster.urls(), wait: 200 })],
    providers: [Ledger, Orders],
  }).compile();
  await ref.init();
  orders = ref.get(Orders);
});
afterAll(async () => {
  await ref?.close();
  await cluster?.stop();
});

describe('@Locked on a provider method', () => {
  it('holds the lock while the method runs and releases it before returning', async () => {
    let during: string[][] = [];
    await ref.get(Ledger).settle('7', async () => {
      during = await keysOn(cluster, 'lock:order:*');
    });
    // A quorum (2 of 3) holds it; the decision does not wait for the last node.
    expect(during.filter((keys) => keys.includes('lock:order:7')).length).toBeGreaterThanOrEqual(2);
    expect(during.flat().every((k) => k === 'lock:order:7')).toBe(true);
    expect((await keysOn(cluster, 'lock:order:*')).flat()).toEqual([]);
  });

  it('acquires exactly once per call', async () => {
    const acquire = jest.spyOn(ref.get(Redlock), 'acquire');
    try {
      await orders.report('once');
      expect(acquire).toHaveBeenCalledTimes(1);
      expect(acquire.mock.calls[0]![0]).toEqual(['report:once']);
    } finally {
      acquire.mockRestore();
    }
  });

  it('re-enters when a locked method calls another with the same key in the same async context', async () => {
    const acquire = jest.spyOn(ref.get(Redlock), 'acquire');
    try {
      const { outer, inner } = await orders.pay('42');
      expect(outer?.resources).toEqual(['order:42']);
      expect(inner).toBe(outer); // current() inside the re-entered call is the enclosing lock
      expect(acquire).toHaveBeenCalledTimes(1);
    } finally {
      acquire.mockRestore();
    }
  });

  it('re-enters a recursive call of the same method instead of deadlocking', async () => {
    await expect(orders.walk('root', 5)).resolves.toBe(5);
  });

  it('acquires only the resources the context does not hold yet', async () => {
    const resources = await ref.get(Ledger).settle('9', () => orders.reserve('9', 'sku-1'));
    expect(resources).toEqual(['stock:sku-1']);
  });

  it('still excludes other async contexts: a concurrent call waits, then gives up with LockBusyError', async () => {
    let release!: () => void;
    const held = ref.get(Ledger).settle('busy', () => new Promise<void>((resolve) => (release = resolve)));
    await sleep(50);
    const error = await ref.get(Ledger).settle('busy').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockBusyError);
    expect((error as LockBusyError).resources).toEqual(['order:busy']);
    release();
    await held;
  });

  it("with onBusy 'skip' returns undefined without running the method when the lock is held", async () => {
    const lock = await ref.get(RedlockService).acquire('report:daily');
    try {
      orders.runs = 0;
      await expect(orders.report('daily')).resolves.toBeUndefined();
      expect(orders.runs).toBe(0);
    } finally {
      await lock.release();
    }
    await expect(orders.report('daily')).resolves.toBe('report daily');
    expect(orders.runs).toBe(1);
  });

  it('keeps the lock alive past its ttl while the method runs (auto-extension)', async () => {
    const result = await orders.slow('a', 700);
    expect(result.lost).toBe(false);
    expect(result.remaining).toBeGreaterThan(0);
    expect((await keysOn(cluster, 'lock:slow:*')).flat()).toEqual([]);
  });

  it('uses a key function with the instance and the arguments', async () => {
    await expect(orders.ship({ id: 5 })).resolves.toEqual(['order:5']);
  });

  it("rethrows the method's own error unchanged and releases the lock", async () => {
    const error = new TypeError('boom');
    await expect(orders.fail('x', error)).rejects.toBe(error);
    expect((await keysOn(cluster, 'lock:fail:*')).flat()).toEqual([]);
  });

  it('current() is undefined outside any locked call', () => {
    expect(ref.get(RedlockService).current()).toBeUndefined();
  });

  it('using() runs its routine holding the lock: current() and re-entrancy work inside it', async () => {
    const service = ref.get(RedlockService);
    const result = await service.using('order:77', async (lock) => {
      expect(service.current()).toBe(lock);
      return ref.get(Ledger).settle('77');
    });
    expect((result as Lock).resources).toEqual(['order:77']);
  });

  it('an instance made outside DI uses the only running RedlockModule', async () => {
    const manual = new Ledger(ref.get(RedlockService));
    const lock = (await manual.settle('manual')) as Lock;
    expect(lock.resources).toEqual(['order:manual']);
  });
});

describe('@Locked keeps what other decorators put on the method, in either order', () => {
  const ROLE = 'test:role';
  class Decorated {
    @SetMetadata(ROLE, 'above')
    @Locked('x:<id>')
    above(id: string) {
      return id;
    }

    @Locked('x:<id>')
    @SetMetadata(ROLE, 'below')
    below(id: string) {
      return id;
    }
  }

  it('keeps name, length and the metadata of decorators applied before and after it', () => {
    const proto = Decorated.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
    expect(proto.above!.name).toBe('above');
    expect(proto.above!.length).toBe(1);
    expect(Reflect.getMetadata(ROLE, proto.above!)).toBe('above');
    expect(proto.below!.name).toBe('below');
    expect(Reflect.getMetadata(ROLE, proto.below!)).toBe('below');
  });
});

describe('start-up validation of provider placeholders', () => {
  it('an app whose provider placeholder names no parameter fails to start, naming class, method and placeholder', async () => {
    @Injectable()
    class Invoices {
      @Locked('invoice:<invoiceID>')
      async generate(invoiceId: string) {
        return invoiceId;
      }
    }
    const module = await Test.createTestingModule({
      imports: [RedlockModule.forRoot({ nodes: cluster.urls() })],
      providers: [Invoices],
    }).compile();
    const error = await module.init().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as Error).message).toBe(
      'invalid @Locked key of Invoices#generate: placeholder <invoiceID> names no parameter of the method (its parameters: invoiceId)',
    );
    // The failed start closed the connections the module had opened (else jest would not exit).
    expect(module.get(Redlock).clients.every((c) => c.status === 'end')).toBe(true);
  });
});

describe('@Locked with @nestjs/schedule', () => {
  it("an @Interval job with onBusy 'skip' never overlaps itself", async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    @Injectable()
    class Jobs {
      @Interval('cleanup', 20)
      @Locked('job:cleanup', { wait: 0, onBusy: 'skip' })
      async cleanup() {
        running++;
        runs++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(90);
        running--;
      }
    }
    const app = await Test.createTestingModule({
      imports: [RedlockModule.forRoot({ nodes: cluster.urls() }), ScheduleModule.forRoot()],
      providers: [Jobs],
    }).compile();
    await app.init();
    try {
      expect(app.get(SchedulerRegistry).getIntervals()).toEqual(['cleanup']);
      await sleep(400);
    } finally {
      await app.close();
    }
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(maxRunning).toBe(1);
  });
});
