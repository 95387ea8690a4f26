import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Catch, Controller, UseFilters } from '@nestjs/common';
import type { RpcExceptionFilter } from '@nestjs/common';
import type { INestApplication, INestMicroservice } from '@nestjs/common';
import { ClientTCP, MessagePattern, Payload, RpcException, Transport } from '@nestjs/microservices';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import type { AddressInfo, Server } from 'node:net';
import { firstValueFrom, lastValueFrom, throwError, toArray } from 'rxjs';
import type { Observable } from 'rxjs';
import { LockBusyError, Locked, Redlock, RedlockModule, RedlockService } from '../../../lib/index.js';
import { startRedisNodes, type RedisNodes } from '../../support/redis-nodes.js';
import { keysOn } from '../lock-keys.js';
import { findSectionOverlaps, payOnce, sleep, versions, type Section } from './support.js';

/*
 * @Locked on @MessagePattern handlers, through the real TCP transport: a Nest microservice on a
 * kernel-chosen port, a ClientTCP sending real packets, three real redis-server lock nodes.
 * On this transport `<id>` is `data.id` of the payload (API.md section 3).
 */

/** The data store of the read-modify-write (node 0, direct connection, not a lock key). */
let store: Redis;
const sections: Section[] = [];
let runs = 0;

type Pay = { id: string };

/** A user's own answer to a busy lock, written above @Locked so Nest tries it first. */
@Catch(LockBusyError)
class OwnBusyFilter implements RpcExceptionFilter<LockBusyError> {
  catch(error: LockBusyError): Observable<never> {
    return throwError(() => ({ mine: true, code: error.code }));
  }
}

@Controller()
class PaymentsController {
  constructor(private readonly redlock: RedlockService) {}

  /** Read, pause, write: without mutual exclusion concurrent messages lose updates. */
  @MessagePattern('pay')
  @Locked('order:<id>', { wait: 20_000 })
  async pay(@Payload() data: Pay) {
    const balance = await payOnce(store, data.id, sections);
    return { id: data.id, balance, resources: this.redlock.current()?.resources };
  }

  /** Holds its lock a while, so calls that do not exclude each other are seen side by side. */
  @MessagePattern('hold')
  @Locked('order:<id>', { wait: 0 })
  async hold(@Payload() data: Pay) {
    const enteredAt = performance.now();
    await sleep(300);
    sections.push({ key: data.id, enteredAt, leftAt: performance.now() });
    return data.id;
  }

  @MessagePattern('pay-now')
  @Locked('order:<id>', { wait: 0 })
  payNow(@Payload() data: Pay) {
    runs++;
    return { paid: data.id, resources: this.redlock.current()?.resources };
  }

  @MessagePattern('pay-own-filter')
  @UseFilters(OwnBusyFilter)
  @Locked('order:<id>', { wait: 0 })
  payOwnFilter(@Payload() data: Pay) {
    return { paid: data.id };
  }

  @MessagePattern('pay-skip')
  @Locked('order:<id>', { wait: 0, onBusy: 'skip' })
  paySkip() {
    runs++;
    return 'ran';
  }

  // The same failures with and without @Locked: the client must not be able to tell them apart.
  @MessagePattern('decline')
  @Locked('order:<id>', { wait: 0 })
  decline(): never {
    throw new RpcException({ code: 'CARD_DECLINED', message: 'card declined' });
  }

  @MessagePattern('decline-unlocked')
  declineUnlocked(): never {
    throw new RpcException({ code: 'CARD_DECLINED', message: 'card declined' });
  }

  @MessagePattern('crash')
  @Locked('order:<id>', { wait: 0 })
  async crash(): Promise<never> {
    throw new Error('boom');
  }

  @MessagePattern('crash-unlocked')
  async crashUnlocked(): Promise<never> {
    throw new Error('boom');
  }
}

let cluster: RedisNodes;
let app: INestMicroservice;
let client: ClientTCP;
/** Another process's view of the lock nodes: direct connections, nothing shared with the app. */
let other: Redlock;

beforeAll(async () => {
  cluster = await startRedisNodes(3);
  store = cluster.nodes[0]!.client();
  other = new Redlock(cluster.nodes.map((node) => node.client()), { wait: 0 });
  const ref = await Test.createTestingModule({
    imports: [RedlockModule.forRoot({ nodes: cluster.urls() })],
    controllers: [PaymentsController],
  }).compile();
  app = ref.createNestMicroservice<MicroserviceOptions>({ transport: Transport.TCP, options: { host: '127.0.0.1', port: 0 } });
  app.useLogger(false); // the unlocked 'crash' handler logs its Error on purpose
  await app.listen();
  const { port } = app.unwrap<Server>().address() as AddressInfo;
  client = new ClientTCP({ host: '127.0.0.1', port });
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await app?.close();
  await other?.quit();
  await cluster?.stop();
});

const send = <T>(pattern: string, data: unknown) => firstValueFrom(client.send<T>(pattern, data));
/** What the client's Observable rejects with. */
const failure = (pattern: string, data: unknown) => send(pattern, data).then(() => 'resolved', (error: unknown) => error);

describe(`@Locked on a microservice handler (TCP transport, @nestjs/microservices ${versions('@nestjs/microservices').loaded})`, () => {
  it('runs on the @nestjs/microservices its install pins', () => {
    const { loaded, pinned } = versions('@nestjs/microservices');
    expect(loaded).toBe(pinned);
  });

  it('serializes concurrent messages for one id: no lost update, no overlapping sections', async () => {
    const count = 12;
    const replies = await Promise.all(Array.from({ length: count }, () => send<{ balance: number; resources: string[] }>('pay', { id: 's1' })));
    expect(Number(await store.get('balance:s1'))).toBe(count);
    expect(replies.map((r) => r.balance).sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(replies.every((r) => r.resources?.[0] === 'order:s1')).toBe(true);
    const mine = sections.filter((s) => s.key === 's1');
    expect(mine).toHaveLength(count);
    expect(findSectionOverlaps(mine)).toEqual([]);
  });

  it('messages for different ids do not wait for each other', async () => {
    const ids = ['d1', 'd2', 'd3', 'd4'];
    // wait: 0 — a lock shared between different ids would make all but one fail busy.
    await expect(Promise.all(ids.map((id) => send('hold', { id })))).resolves.toEqual(ids);
    const mine = sections.filter((s) => ids.includes(s.key));
    // All four were inside their sections at one moment: no lock between different orders.
    const lastEnter = Math.max(...mine.map((s) => s.enteredAt));
    const firstLeave = Math.min(...mine.map((s) => s.leftAt));
    expect(lastEnter).toBeLessThan(firstLeave);
  });

  it('locks exactly `order:<data.id>`: held elsewhere, that id is busy and another id is not', async () => {
    const held = await other.acquire('order:k1');
    try {
      runs = 0;
      const error = await failure('pay-now', { id: 'k1' });
      expect(error).toMatchObject({ code: 'LOCK_BUSY', resources: ['order:k1'] });
      expect(runs).toBe(0);
      await expect(send('pay-now', { id: 'k2' })).resolves.toEqual({ paid: 'k2', resources: ['order:k2'] });
      expect(runs).toBe(1);
    } finally {
      await held.release();
    }
    await expect(send('pay-now', { id: 'k1' })).resolves.toEqual({ paid: 'k1', resources: ['order:k1'] });
  });

  it("busy with onBusy 'throw': the client's Observable errors with the LockBusyError's own fields", async () => {
    const held = await other.acquire('order:b1');
    try {
      const error = await failure('pay-now', { id: 'b1' });
      // The TCP transport sends the error as JSON; RedlockExceptionFilter makes it a plain
      // object first, or an Error's `message` (not enumerable) would not arrive.
      expect(error).toEqual({
        status: 'error',
        message: expect.stringMatching(/^lock on "order:b1" is held by another owner \(1 attempt over \d+ ms\)$/),
        name: 'LockBusyError',
        code: 'LOCK_BUSY',
        resources: ['order:b1'],
        attempts: 1,
        waitedMs: expect.any(Number),
        retryAfterMs: expect.any(Number),
      });
      expect(error).not.toBeInstanceOf(Error);
    } finally {
      await held.release();
    }
  });

  it('a filter of its own written above @Locked answers a busy lock instead of RedlockExceptionFilter', async () => {
    const held = await other.acquire('order:f1');
    try {
      await expect(failure('pay-own-filter', { id: 'f1' })).resolves.toEqual({ mine: true, code: 'LOCK_BUSY' });
    } finally {
      await held.release();
    }
    await expect(send('pay-own-filter', { id: 'f1' })).resolves.toEqual({ paid: 'f1' });
  });

  it("busy with onBusy 'skip': the handler does not run and the client gets an empty reply", async () => {
    const held = await other.acquire('order:p1');
    try {
      runs = 0;
      // undefined does not survive JSON: the reply completes without a value.
      await expect(lastValueFrom(client.send('pay-skip', { id: 'p1' }).pipe(toArray()))).resolves.toEqual([]);
      expect(runs).toBe(0);
    } finally {
      await held.release();
    }
    await expect(send('pay-skip', { id: 'p1' })).resolves.toBe('ran');
    expect(runs).toBe(1);
  });

  it("passes the handler's own errors through unchanged and releases the lock", async () => {
    const declined = await failure('decline', { id: 'e1' });
    expect(declined).toEqual({ code: 'CARD_DECLINED', message: 'card declined' });
    expect(declined).toEqual(await failure('decline-unlocked', { id: 'e1' }));

    const crashed = await failure('crash', { id: 'e1' });
    expect(crashed).toEqual({ status: 'error', message: 'Internal server error' }); // Nest's own answer to an Error
    expect(crashed).toEqual(await failure('crash-unlocked', { id: 'e1' }));

    expect((await keysOn(cluster, 'lock:order:e1')).flat()).toEqual([]);
  });

  it('releases the lock once the reply completes: another client can take the key at once', async () => {
    // The app reaches the nodes through slowed proxies and `other` directly: a release still in
    // flight when the reply completed would show up as a busy key here.
    // firstValueFrom: the TCP server sends a handler's value the moment it is emitted, before
    // the end of the reply; the interceptor emits it only after the release.
    for (const node of cluster.nodes) node.proxy.setLatency(15);
    try {
      for (let i = 0; i < 8; i++) {
        await firstValueFrom(client.send('pay-now', { id: 'r1' }));
        const lock = await other.tryAcquire('order:r1');
        expect(lock).not.toBeNull();
        await lock!.release();
      }
    } finally {
      for (const node of cluster.nodes) node.proxy.setLatency(0);
    }
  });
});

describe('@Locked on a hybrid app\'s microservice (connectMicroservice without inheritAppConfig)', () => {
  // Nest gives such a microservice none of the app's global filters: the filter @Locked puts
  // on the method is what keeps a busy lock from becoming "Internal server error".
  let hybrid: INestApplication;
  let hybridClient: ClientTCP;

  beforeAll(async () => {
    const ref = await Test.createTestingModule({
      imports: [RedlockModule.forRoot({ nodes: cluster.urls() })],
      controllers: [PaymentsController],
    }).compile();
    hybrid = ref.createNestApplication({ logger: false });
    const microservice = hybrid.connectMicroservice<MicroserviceOptions>({ transport: Transport.TCP, options: { host: '127.0.0.1', port: 0 } });
    await hybrid.startAllMicroservices();
    await hybrid.init();
    const { port } = microservice.unwrap<Server>().address() as AddressInfo;
    hybridClient = new ClientTCP({ host: '127.0.0.1', port });
    await hybridClient.connect();
  });

  afterAll(async () => {
    await hybridClient?.close();
    await hybrid?.close();
  });

  it('busy reaches the client as the LockBusyError, not as "Internal server error"', async () => {
    const held = await other.acquire('order:h1');
    try {
      const error = await firstValueFrom(hybridClient.send('pay-now', { id: 'h1' })).catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 'error', name: 'LockBusyError', code: 'LOCK_BUSY', resources: ['order:h1'] });
    } finally {
      await held.release();
    }
    await expect(firstValueFrom(hybridClient.send('pay-now', { id: 'h1' }))).resolves.toEqual({ paid: 'h1', resources: ['order:h1'] });
  });
});
