import 'reflect-metadata';
// Some parameters exist only for the key templates that name them.
/* eslint-disable @typescript-eslint/no-unused-vars */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Controller, Get, Injectable, Param, Post } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import request from 'supertest';
import { Locked, LockBusyError, Redlock, RedlockConfigError, RedlockModule, RedlockService } from '../../lib/index.js';
import type { Lock } from '../../lib/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';

/** A promise the test opens when it wants a held call to finish. */
function gate(): { readonly shut: Promise<void>; open(): void } {
  let open!: () => void;
  const shut = new Promise<void>((resolve) => (open = resolve));
  return { shut, open };
}

type Inside = () => Promise<unknown>;

@Injectable()
class Documents {
  constructor(readonly redlock: RedlockService) {}

  @Locked('doc:<id>', { mode: 'read', wait: 0 })
  async read(id: string, inside?: Inside): Promise<unknown> {
    return inside ? inside() : this.redlock.current();
  }

  @Locked('doc:<id>', { wait: 0 })
  async write(id: string, inside?: Inside): Promise<unknown> {
    return inside ? inside() : this.redlock.current();
  }

  @Locked('doc:<id>', { fenced: true, wait: 0 })
  async fencedWrite(id: string, inside?: Inside): Promise<unknown> {
    return inside ? inside() : this.redlock.current();
  }

  @Locked('export', { limit: 3, wait: 0 })
  async export(inside?: Inside): Promise<unknown> {
    return inside ? inside() : this.redlock.current();
  }

  @Locked('export', { limit: 2, wait: 0 })
  async exportWithOtherLimit(): Promise<unknown> {
    return this.redlock.current();
  }

  @Locked('queue:<id>', { fair: true, wait: 5_000 })
  async inLine(id: string, arrived: number, order: number[]): Promise<void> {
    order.push(arrived);
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

let nodes: RedisNodes;
let ref: TestingModule;
let docs: Documents;
beforeAll(async () => {
  nodes = await startRedisNodes(3);
  ref = await Test.createTestingModule({
    imports: [RedlockModule.forRoot({ nodes: nodes.urls() })],
    providers: [Documents],
  }).compile();
  await ref.init();
  docs = ref.get(Documents);
});
afterAll(async () => {
  await ref?.close();
  await nodes?.stop();
});

describe("@Locked(key, { mode: 'read' })", () => {
  it('lets readers in together and keeps a writer out while they read', async () => {
    const readers = gate();
    const inside: Lock[] = [];
    const holding = [1, 2].map(() =>
      docs.read('r1', async () => {
        inside.push(ref.get(RedlockService).current()!);
        await readers.shut;
      }));
    while (inside.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(inside.map((lock) => lock.mode)).toEqual(['read', 'read']);
    await expect(docs.write('r1')).rejects.toBeInstanceOf(LockBusyError);
    readers.open();
    await Promise.all(holding);
    await expect(docs.write('r1')).resolves.toMatchObject({ mode: 'write' });
  });

  it('re-enters a write lock: a writer reads the same resource without taking a read lock', async () => {
    const acquire = jest.spyOn(ref.get(Redlock), 'acquire');
    try {
      // With wait 0, a read that tried to acquire against its own writer would be busy at once.
      const outer = (await docs.write('r2', async () => ({
        writer: ref.get(RedlockService).current(),
        reader: await docs.read('r2'),
      }))) as { writer: Lock; reader: Lock };
      expect(outer.reader).toBe(outer.writer);
      expect(outer.writer.mode).toBe('write');
      expect(acquire).toHaveBeenCalledTimes(1);
    } finally {
      acquire.mockRestore();
    }
  });

  it('refuses to upgrade a read lock to write in the same context, instead of waiting on itself', async () => {
    const error = await docs.read('r3', () => docs.write('r3')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).field).toBe('@Locked options of Documents#write.mode');
    // The reader's own lock was released on the way out: a writer gets in.
    await expect(docs.write('r3')).resolves.toMatchObject({ mode: 'write' });
  });
});

describe('@Locked(key, { limit })', () => {
  it('admits at most limit calls at once; a nested call with the same limit re-enters its permit', async () => {
    const holders = gate();
    let started = 0;
    const holding = [1, 2, 3].map(() =>
      docs.export(async () => {
        started++;
        await holders.shut;
      }));
    while (started < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    const fourth = await docs.export().catch((e: unknown) => e);
    expect(fourth).toBeInstanceOf(LockBusyError);
    holders.open();
    await Promise.all(holding);

    const nested = (await docs.export(async () => ({ outer: ref.get(RedlockService).current(), inner: await docs.export() }))) as {
      outer: Lock;
      inner: Lock;
    };
    expect(nested.inner).toBe(nested.outer);
    expect(nested.outer.limit).toBe(3);
  });

  it('a nested call with another limit fails with RedlockConfigError naming limit', async () => {
    const error = await docs.export(() => docs.exportWithOtherLimit()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).field).toBe('@Locked options of Documents#exportWithOtherLimit.limit');
  });

  it('a call with another limit than the current holders fails with RedlockConfigError naming limit', async () => {
    const holders = gate();
    const holding = docs.export(() => holders.shut);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const error = await docs.exportWithOtherLimit().catch((e: unknown) => e);
    holders.open();
    await holding;
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).field).toBe('limit');
  });
});

describe('@Locked(key, { fenced: true })', () => {
  it('current().fence grows with every later holder, and a nested fenced call keeps the fence', async () => {
    const first = (await docs.fencedWrite('f1')) as Lock;
    const second = (await docs.fencedWrite('f1', async () => ({
      outer: ref.get(RedlockService).current(),
      inner: await docs.fencedWrite('f1'),
    }))) as { outer: Lock; inner: Lock };
    expect(typeof first.fence).toBe('number');
    expect(second.outer.fence).toBeGreaterThan(first.fence!);
    expect(second.inner).toBe(second.outer);
  });

  it('a fenced call inside an unfenced lock on the same resource fails with RedlockConfigError naming fenced', async () => {
    const error = await docs.write('f2', () => docs.fencedWrite('f2')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).field).toBe('@Locked options of Documents#fencedWrite.fenced');
  });

  it('a plain write or read inside a fenced lock re-enters it', async () => {
    const outer = (await docs.fencedWrite('f3', async () => ({
      fenced: ref.get(RedlockService).current(),
      write: await docs.write('f3'),
      read: await docs.read('f3'),
    }))) as { fenced: Lock; write: Lock; read: Lock };
    expect(outer.write).toBe(outer.fenced);
    expect(outer.read).toBe(outer.fenced);
  });
});

describe("@Locked(key, { fair: true })", () => {
  it('serves the calls in the order they arrived', async () => {
    const order: number[] = [];
    const holder = await ref.get(RedlockService).acquire('queue:q1', { fair: true });
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 4; i += 1) {
      calls.push(docs.inLine('q1', i, order));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await holder.release();
    await Promise.all(calls);
    expect(order).toEqual([0, 1, 2, 3]);
  });
});

describe('RedlockService.isLocked', () => {
  it('is true while a locked call runs (any mode) and false before and after', async () => {
    const service = ref.get(RedlockService);
    expect(await service.isLocked('doc:probe')).toBe(false);
    await expect(docs.read('probe', () => service.isLocked('doc:probe'))).resolves.toBe(true);
    await expect(docs.write('probe', () => service.isLocked('doc:probe'))).resolves.toBe(true);
    expect(await service.isLocked('doc:probe')).toBe(false);
  });
});

describe('@Locked lock-family options are checked when the class is defined', () => {
  const define = (options: object) => () => {
    class Probe {
      @Locked('x', options as never)
      async run(): Promise<void> {}
    }
    return Probe;
  };

  it.each([
    [{ mode: 'shared' }, '@Locked options of Probe#run.mode'],
    [{ limit: 0 }, '@Locked options of Probe#run.limit'],
    [{ limit: 2.5 }, '@Locked options of Probe#run.limit'],
    [{ limit: 2, mode: 'read' }, '@Locked options of Probe#run.limit'],
    [{ fenced: 'yes' }, '@Locked options of Probe#run.fenced'],
    [{ fenced: true, mode: 'read' }, '@Locked options of Probe#run.fenced'],
    [{ fenced: true, limit: 2 }, '@Locked options of Probe#run.fenced'],
    [{ fair: 1 }, '@Locked options of Probe#run.fair'],
    [{ fair: true, mode: 'read' }, '@Locked options of Probe#run.fair'],
  ])('%j is refused (field %s)', (options, field) => {
    let error: unknown;
    try {
      define(options)();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).field).toBe(field);
  });
});

@Controller('reports')
class ReportsController {
  constructor(private readonly redlock: RedlockService) {}

  @Get(':id')
  @Locked('report:<id>', { mode: 'read', wait: 0 })
  async read(@Param('id') id: string): Promise<{ mode: string | undefined }> {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { mode: this.redlock.current()?.mode };
  }

  @Post(':id')
  @Locked('report:<id>', { wait: 0 })
  async rebuild(@Param('id') id: string): Promise<{ mode: string | undefined }> {
    return { mode: this.redlock.current()?.mode };
  }

  @Get('export/:id')
  @Locked('report-export', { limit: 3, wait: 0 })
  async export(@Param('id') id: string): Promise<{ limit: number | undefined }> {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { limit: this.redlock.current()?.limit };
  }
}

describe('the lock family in HTTP handlers', () => {
  let app: INestApplication;
  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [RedlockModule.forRoot({ nodes: nodes.urls() })],
      controllers: [ReportsController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('serves concurrent readers and answers a writer 409 while they read', async () => {
    const readers = [request(app.getHttpServer()).get('/reports/7'), request(app.getHttpServer()).get('/reports/7')].map((r) => r.then((res) => res));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const writer = await request(app.getHttpServer()).post('/reports/7');
    const answers = await Promise.all(readers);
    expect(answers.map((res) => [res.status, res.body])).toEqual([
      [200, { mode: 'read' }],
      [200, { mode: 'read' }],
    ]);
    expect(writer.status).toBe(409);
    expect(Number(writer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await request(app.getHttpServer()).post('/reports/7')).status).toBe(201);
  });

  it('lets 3 exports run at once and answers the fourth 409', async () => {
    const three = [1, 2, 3].map((i) => request(app.getHttpServer()).get(`/reports/export/${i}`).then((res) => res));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const fourth = await request(app.getHttpServer()).get('/reports/export/4');
    const answers = await Promise.all(three);
    expect(answers.map((res) => [res.status, res.body])).toEqual([
      [200, { limit: 3 }],
      [200, { limit: 3 }],
      [200, { limit: 3 }],
    ]);
    expect(fourth.status).toBe(409);
  });
});
