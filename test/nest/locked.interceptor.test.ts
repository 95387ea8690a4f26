import 'reflect-metadata';
// Some parameters exist only for the key templates that name them.
/* eslint-disable @typescript-eslint/no-unused-vars */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Injectable, SetMetadata } from '@nestjs/common';
import type { CallHandler } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/internal';
import { MessagePattern } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { SubscribeMessage } from '@nestjs/websockets';
import type { TestingModule } from '@nestjs/testing';
import { defer, firstValueFrom, from, interval, lastValueFrom, take, toArray } from 'rxjs';
import type { Observable } from 'rxjs';
import {
  LockAbortedError,
  Locked,
  LockBusyError,
  LockedInterceptor,
  QuorumUnavailableError,
  Redlock,
  RedlockExceptionFilter,
  RedlockModule,
  RedlockService,
} from '../../lib/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';
import { keysOn } from './lock-keys.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What @nestjs/graphql's @Query() puts on a resolver method (that package is not installed here). */
const Query = () => SetMetadata('graphql:resolver_type', 'Query');

/** Handlers as a microservice controller, a gateway or a resolver would have them. */
@Injectable()
class OrderHandlers {
  runs = 0;
  constructor(readonly redlock: RedlockService) {}

  @MessagePattern('pay')
  @Locked('order:<order.id>', { wait: 0 })
  onOrder(data: { order: { id: string } }, ctx: unknown) {
    this.runs++;
    return { resources: this.redlock.current()?.resources, data, ctx };
  }

  @SubscribeMessage('chat')
  @Locked('room:<room>', { wait: 0 })
  onMessage(client: unknown, data: { room: string }) {
    return { resources: this.redlock.current()?.resources, room: data.room };
  }

  @Query()
  @Locked('order:<id>', { wait: 0 })
  order(root: unknown, args: { id: string }) {
    return { resources: this.redlock.current()?.resources, id: args.id };
  }

  @MessagePattern('job')
  @Locked('job:<name>', { wait: 0, onBusy: 'skip' })
  job(data: { name: string }) {
    this.runs++;
    return 'ran';
  }

  @MessagePattern('keyed')
  @Locked((self: OrderHandlers, data: { id: string }) => `fn:${self.constructor.name}:${data.id}`, { wait: 0 })
  keyed(data: { id: string }) {
    return this.redlock.current()?.resources;
  }

  @MessagePattern('stream')
  @Locked('stream:<id>', { ttl: 300 })
  stream(data: { id: string }): Observable<number> {
    return interval(50).pipe(take(3));
  }

  @MessagePattern('patient')
  @Locked('patient:<id>', { wait: 2_000 })
  patient(data: { id: string }) {
    return data.id;
  }

  @MessagePattern('plain')
  plain(data: unknown) {
    return data;
  }
}

let cluster: RedisNodes;
let ref: TestingModule;
let interceptor: LockedInterceptor;
let handlers: OrderHandlers;

beforeAll(async () => {
  cluster = await startRedisNodes(3);
  ref = await Test.createTestingModule({
    imports: [RedlockModule.forRoot({ nodes: cluster.urls() })],
    providers: [OrderHandlers],
  }).compile();
  await ref.init();
  interceptor = ref.get(LockedInterceptor);
  handlers = ref.get(OrderHandlers);
});
afterAll(async () => {
  await ref?.close();
  await cluster?.stop();
});

type HandlerName = 'onOrder' | 'onMessage' | 'order' | 'job' | 'keyed' | 'stream' | 'patient' | 'plain';

/**
 * Runs a handler the way Nest does: the interceptor gets an ExecutionContext of the given type,
 * and next.handle() calls the (decorated) method with the handler's arguments.
 */
function intercept(type: string, name: HandlerName, args: unknown[], handlerArgs = args): Observable<unknown> {
  const method = (handlers as unknown as Record<HandlerName, (...a: unknown[]) => unknown>)[name];
  const context = new ExecutionContextHost(args, OrderHandlers, method);
  context.setType(type);
  const next: CallHandler = {
    handle: () => defer(() => {
      const result = method.apply(handlers, handlerArgs);
      return result && typeof (result as Observable<unknown>).subscribe === 'function' ? (result as Observable<unknown>) : from(Promise.resolve(result));
    }),
  };
  return interceptor.intercept(context, next);
}

describe('LockedInterceptor outside HTTP', () => {
  it('microservice (rpc): the key comes from data of [data, ctx], held while the handler runs, acquired once', async () => {
    const acquire = jest.spyOn(ref.get(Redlock), 'acquire');
    try {
      const result = await lastValueFrom(intercept('rpc', 'onOrder', [{ order: { id: 'r1' } }, { pattern: 'pay' }]));
      expect(result).toEqual({ resources: ['order:r1'], data: { order: { id: 'r1' } }, ctx: { pattern: 'pay' } });
      expect(acquire).toHaveBeenCalledTimes(1);
      expect((await keysOn(cluster, 'lock:order:*')).flat()).toEqual([]);
    } finally {
      acquire.mockRestore();
    }
  });

  it('WebSocket: the key comes from data of [client, data]', async () => {
    const result = await lastValueFrom(intercept('ws', 'onMessage', [{ id: 'socket-1' }, { room: 'lobby' }]));
    expect(result).toEqual({ resources: ['room:lobby'], room: 'lobby' });
  });

  it('GraphQL: the key comes from the arguments of [root, args, ctx, info]', async () => {
    const result = await lastValueFrom(intercept('graphql', 'order', [{}, { id: 'g1' }, {}, {}], [{}, { id: 'g1' }]));
    expect(result).toEqual({ resources: ['order:g1'], id: 'g1' });
  });

  it('a key function gets the handler instance and the context arguments', async () => {
    const result = await lastValueFrom(intercept('rpc', 'keyed', [{ id: 'k1' }, {}]));
    expect(result).toEqual(['fn:OrderHandlers:k1']);
  });

  it.each([
    ['rpc', 'onOrder', [{ order: { id: 'busy' } }, {}], 'order:busy'],
    ['ws', 'onMessage', [{}, { room: 'busy' }], 'room:busy'],
    ['graphql', 'order', [{}, { id: 'busy' }, {}, {}], 'order:busy'],
  ] as const)('%s: a busy lock throws the original LockBusyError, not an HTTP exception', async (type, name, args, resource) => {
    const lock = await ref.get(RedlockService).acquire(resource);
    try {
      handlers.runs = 0;
      const error = await lastValueFrom(intercept(type, name, [...args])).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockBusyError);
      expect(handlers.runs).toBe(0);
    } finally {
      await lock.release();
    }
  });

  it("onBusy 'skip' emits undefined without calling the handler", async () => {
    const lock = await ref.get(RedlockService).acquire('job:sync');
    try {
      handlers.runs = 0;
      await expect(lastValueFrom(intercept('rpc', 'job', [{ name: 'sync' }, {}]))).resolves.toBeUndefined();
      expect(handlers.runs).toBe(0);
    } finally {
      await lock.release();
    }
  });

  it('passes a handler without @Locked straight through', async () => {
    await expect(lastValueFrom(intercept('rpc', 'plain', [{ a: 1 }, {}]))).resolves.toEqual({ a: 1 });
  });

  it('holds the lock for an Observable result until it completes', async () => {
    const done = lastValueFrom(intercept('rpc', 'stream', [{ id: 's1' }, {}]).pipe(toArray()));
    await sleep(70); // between the first and the second value
    expect((await keysOn(cluster, 'lock:stream:s1')).flat().length).toBeGreaterThanOrEqual(2); // a quorum
    expect(await done).toEqual([0, 1, 2]);
    expect((await keysOn(cluster, 'lock:stream:s1')).flat()).toEqual([]);
  });

  it('a caller that unsubscribes while waiting for the lock stops waiting and leaves no lock behind', async () => {
    const service = ref.get(RedlockService);
    const blocker = await service.acquire('patient:w');
    const acquire = jest.spyOn(service, 'acquire');
    try {
      const subscription = intercept('rpc', 'patient', [{ id: 'w' }, {}]).subscribe({ error: () => undefined });
      await sleep(60);
      expect(acquire).toHaveBeenCalledTimes(1);
      subscription.unsubscribe();
      await expect(acquire.mock.results[0]!.value).rejects.toBeInstanceOf(LockAbortedError);
    } finally {
      acquire.mockRestore();
      await blocker.release();
    }
    await sleep(150);
    expect((await keysOn(cluster, 'lock:patient:*')).flat()).toEqual([]);
  });
});

describe('RedlockExceptionFilter outside HTTP', () => {
  const filter = new RedlockExceptionFilter({ nodes: [] });
  const busy = new LockBusyError(['order:1'], 3, 100);

  function host(type: string, args: unknown[]): ExecutionContextHost {
    const h = new ExecutionContextHost(args);
    h.setType(type);
    return h;
  }

  it('rpc: hands the transport the error as a plain object it can serialize, message included', async () => {
    const result = filter.catch(busy, host('rpc', [{}, {}])) as Observable<never>;
    const sent = await firstValueFrom(result).catch((e: unknown) => e);
    expect(sent).toEqual({ status: 'error', name: 'LockBusyError', code: 'LOCK_BUSY', message: busy.message, resources: ['order:1'], attempts: 3, waitedMs: 100 });
    expect(JSON.parse(JSON.stringify(sent))).toEqual(sent);
  });

  it('ws: sends an exception message to the client, like a WsException, with a generic message', () => {
    const emit = jest.fn();
    filter.catch(new QuorumUnavailableError('down: #1 10.0.0.1:6379', []), host('ws', [{ emit }, {}]));
    expect(emit).toHaveBeenCalledWith('exception', { status: 'error', code: 'QUORUM_UNAVAILABLE', message: 'The lock service is unavailable; retry later' });
  });

  it('ws: a native ws socket (no emit to the client) is sent the frame itself', () => {
    const send = jest.fn();
    filter.catch(busy, host('ws', [{ readyState: 1, send, emit: jest.fn() }, {}]));
    expect(JSON.parse(send.mock.calls[0]![0] as string)).toEqual({
      event: 'exception',
      data: { status: 'error', code: 'LOCK_BUSY', message: 'The resource is locked by another request; retry later' },
    });
  });

  it('graphql: returns an error with extensions.code and a generic message, the original as its cause', () => {
    const reported = filter.catch(busy, host('graphql', [{}, {}, {}, {}])) as Error & { extensions: unknown };
    expect(reported.message).toBe('The resource is locked by another request; retry later');
    expect(reported.extensions).toEqual({ code: 'LOCK_BUSY' });
    expect(reported.cause).toBe(busy);
  });
});
