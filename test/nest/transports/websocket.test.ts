import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { Test } from '@nestjs/testing';
import { MessageBody, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import type { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { Locked, Redlock, RedlockModule, RedlockService } from '../../../lib/index.js';
import type { Lock } from '../../../lib/index.js';
import { LOCK_BUSY_MESSAGE } from '../../../lib/errors/public-lock-error.js';
import { startRedisNodes, type RedisNodes } from '../../support/redis-nodes.js';
import { keysOn } from '../lock-keys.js';
import { findSectionOverlaps, payOnce, sleep, versions, type Section } from './support.js';

/*
 * @Locked on @SubscribeMessage handlers, through the real `ws` transport: @nestjs/platform-ws's
 * WsAdapter on the HTTP server of a Nest app listening on a kernel-chosen port, real `ws`
 * clients, three real redis-server lock nodes. On this transport `<id>` is `data.id` of the
 * message (API.md section 3). Messages are `{ event, data }` JSON frames both ways.
 *
 * Exceptions: NestJS 12's BaseWsExceptionFilter sends an 'exception' frame to a native `ws`
 * socket; NestJS 11's calls `client.emit('exception', ...)`, which on a `ws` socket is only a
 * local event on the server side, so the client gets no frame for the handler's own
 * WsException there. A busy lock is rendered by RedlockExceptionFilter, which `@Locked` puts on
 * the method (Nest applies no global filter to gateways) and which sends the frame itself: the
 * same frame on both. The NestJS 11 leg runs this file too and checks that.
 */
const wsVersion = versions('@nestjs/websockets').loaded;
const exceptionFrames = Number(wsVersion.split('.')[0]) >= 12;
/** What a client is sent for a busy lock (generic: no resource, no node address). */
const BUSY_FRAME = { event: 'exception', data: { status: 'error', code: 'LOCK_BUSY', message: LOCK_BUSY_MESSAGE } };

let store: Redis;
const sections: Section[] = [];
let runs = 0;

type Pay = { id: string };

@WebSocketGateway() // no port: shares the app's HTTP server
class PaymentsGateway {
  constructor(private readonly redlock: RedlockService) {}

  /** Read, pause, write: without mutual exclusion concurrent messages lose updates. */
  @SubscribeMessage('pay')
  @Locked('order:<id>', { wait: 20_000 })
  async pay(@MessageBody() data: Pay) {
    const balance = await payOnce(store, data.id, sections);
    return { event: 'paid', data: { id: data.id, balance, resources: this.redlock.current()?.resources } };
  }

  @SubscribeMessage('pay-now')
  @Locked('order:<id>', { wait: 0 })
  payNow(@MessageBody() data: Pay) {
    runs++;
    return { event: 'paid', data: { id: data.id, resources: this.redlock.current()?.resources } };
  }

  @SubscribeMessage('pay-skip')
  @Locked('order:<id>', { wait: 0, onBusy: 'skip' })
  paySkip() {
    runs++;
    return { event: 'ran' };
  }

  // The same failure with and without @Locked: the client must not be able to tell them apart.
  @SubscribeMessage('decline')
  @Locked('order:<id>', { wait: 0 })
  decline(): never {
    throw new WsException('card declined');
  }

  @SubscribeMessage('decline-unlocked')
  declineUnlocked(): never {
    throw new WsException('card declined');
  }

  @SubscribeMessage('ping')
  ping() {
    return { event: 'pong' };
  }
}

interface Frame {
  event: string;
  data?: unknown;
}

/** A `ws` client that queues the frames it receives, so a test can await them in order. */
class Client {
  private readonly inbox: Frame[] = [];
  private readonly waiting: ((frame: Frame) => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as Frame;
      const waiter = this.waiting.shift();
      if (waiter) waiter(frame);
      else this.inbox.push(frame);
    });
  }

  static open(url: string): Promise<Client> {
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new Client(socket)));
      socket.once('error', reject);
    });
  }

  send(event: string, data?: unknown): void {
    this.socket.send(JSON.stringify({ event, data }));
  }

  /** The next frame; fails after 5 s rather than letting jest's 30 s timeout hide which wait hung. */
  next(): Promise<Frame> {
    const frame = this.inbox.shift();
    if (frame) return Promise.resolve(frame);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(new Error('no frame within 5 s'));
      }, 5_000);
      const waiter = (f: Frame) => {
        clearTimeout(timer);
        resolve(f);
      };
      this.waiting.push(waiter);
    });
  }

  /** Pings and returns the frames that arrive before the pong: what was sent to this socket until now. */
  async drain(): Promise<Frame[]> {
    this.send('ping');
    const frames: Frame[] = [];
    for (let frame = await this.next(); frame.event !== 'pong'; frame = await this.next()) frames.push(frame);
    return frames;
  }

  /** Sends and waits for the next frame: only for one message in flight on this socket. */
  request(event: string, data?: unknown): Promise<Frame> {
    this.send(event, data);
    return this.next();
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

let cluster: RedisNodes;
let app: INestApplication;
let url: string;
const clients: Client[] = [];
/** Another process's view of the lock nodes: direct connections, nothing shared with the app. */
let other: Redlock;

const connect = async (): Promise<Client> => {
  const client = await Client.open(url);
  clients.push(client);
  return client;
};

/**
 * Sends one message to a @Locked handler and returns every frame the gateway sent for it, also
 * when that is none (a skipped call, or an exception under NestJS 11). The call is over once its
 * acquire has settled and, if it got the lock, the lock's release has finished: the interceptor
 * passes the outcome on right after that, synchronously, so a ping sent then comes back after
 * any frame of the call (one socket, frames in order).
 */
async function framesOf(socket: Client, event: string, data: unknown): Promise<Frame[]> {
  const acquire = jest.spyOn(app.get(RedlockService), 'acquire');
  try {
    socket.send(event, data);
    while (acquire.mock.results.length === 0) await sleep(2);
    const lock = await (acquire.mock.results[0]!.value as Promise<Lock>).catch(() => undefined);
    if (lock) {
      while (lock.remaining > 0) await sleep(2);
      await lock.release(); // the interceptor's own release: resolves when it has finished
    }
  } finally {
    acquire.mockRestore();
  }
  await sleep(0);
  return socket.drain();
}

beforeAll(async () => {
  cluster = await startRedisNodes(3);
  store = cluster.nodes[0]!.client();
  other = new Redlock(cluster.nodes.map((node) => node.client()), { wait: 0 });
  const ref = await Test.createTestingModule({
    imports: [RedlockModule.forRoot({ nodes: cluster.urls() })],
    providers: [PaymentsGateway],
  }).compile();
  app = ref.createNestApplication({ logger: false });
  app.useWebSocketAdapter(new WsAdapter(app));
  await app.listen(0, '127.0.0.1');
  url = (await app.getUrl()).replace(/^http:\/\/(\[::1\]|localhost)/, 'http://127.0.0.1').replace(/^http/, 'ws');
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await app?.close();
  await other?.quit();
  await cluster?.stop();
});

describe(`@Locked on a WebSocket gateway handler (ws transport, @nestjs/websockets ${wsVersion})`, () => {
  it.each(['@nestjs/websockets', '@nestjs/platform-ws'])('runs on the %s its install pins', (name) => {
    const { loaded, pinned } = versions(name);
    expect(loaded).toBe(pinned);
  });

  it('serializes concurrent messages for one id, from several sockets: no lost update, no overlapping sections', async () => {
    const sockets = await Promise.all([connect(), connect(), connect()]);
    const perSocket = 4;
    for (const socket of sockets) for (let i = 0; i < perSocket; i++) socket.send('pay', { id: 's1' });
    const replies = (await Promise.all(sockets.map((socket) => Promise.all(Array.from({ length: perSocket }, () => socket.next()))))).flat();
    const count = sockets.length * perSocket;
    expect(Number(await store.get('balance:s1'))).toBe(count);
    const balances = replies.map((frame) => (frame.data as { balance: number }).balance).sort((a, b) => a - b);
    expect(balances).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(replies.every((frame) => frame.event === 'paid' && (frame.data as { resources: string[] }).resources[0] === 'order:s1')).toBe(true);
    const mine = sections.filter((s) => s.key === 's1');
    expect(mine).toHaveLength(count);
    expect(findSectionOverlaps(mine)).toEqual([]);
  });

  it('locks exactly `order:<data.id>`: held elsewhere, that id is busy and another id is not', async () => {
    const socket = await connect();
    const held = await other.acquire('order:k1');
    try {
      runs = 0;
      expect(await framesOf(socket, 'pay-now', { id: 'k1' })).toEqual([BUSY_FRAME]);
      expect(runs).toBe(0);
      expect(await socket.request('pay-now', { id: 'k2' })).toEqual({ event: 'paid', data: { id: 'k2', resources: ['order:k2'] } });
      expect(runs).toBe(1);
    } finally {
      await held.release();
    }
    expect(await socket.request('pay-now', { id: 'k1' })).toEqual({ event: 'paid', data: { id: 'k1', resources: ['order:k1'] } });
  });

  it("busy with onBusy 'throw': the handler does not run; the client gets an 'exception' frame with the code", async () => {
    const socket = await connect();
    const held = await other.acquire('order:b1');
    try {
      runs = 0;
      expect(await framesOf(socket, 'pay-now', { id: 'b1' })).toEqual([BUSY_FRAME]);
      expect(runs).toBe(0);
    } finally {
      await held.release();
    }
  });

  it("busy with onBusy 'skip': the handler does not run and the client gets no frame at all", async () => {
    const socket = await connect();
    const held = await other.acquire('order:p1');
    try {
      runs = 0;
      expect(await framesOf(socket, 'pay-skip', { id: 'p1' })).toEqual([]);
      expect(runs).toBe(0);
    } finally {
      await held.release();
    }
    expect(await socket.request('pay-skip', { id: 'p1' })).toEqual({ event: 'ran' });
    expect(runs).toBe(1);
  });

  it("passes the handler's own WsException through unchanged and releases the lock", async () => {
    const socket = await connect();
    const locked = await framesOf(socket, 'decline', { id: 'e1' });
    socket.send('decline-unlocked', { id: 'e1' });
    const unlocked = await socket.drain(); // no lock: its frame, if any, is sent before the ping is read
    const frame = (pattern: string) => ({
      event: 'exception',
      data: { status: 'error', message: 'card declined', cause: { pattern, data: { id: 'e1' } } },
    });
    expect(locked).toEqual(exceptionFrames ? [frame('decline')] : []);
    expect(unlocked).toEqual(exceptionFrames ? [frame('decline-unlocked')] : []);
    expect((await keysOn(cluster, 'lock:order:e1')).flat()).toEqual([]);
  });

  it('releases the lock before the reply frame: another client can take the key at once', async () => {
    const socket = await connect();
    // The app reaches the nodes through slowed proxies and `other` directly: a release still in
    // flight when the reply frame arrived would show up as a busy key here.
    for (const node of cluster.nodes) node.proxy.setLatency(15);
    try {
      for (let i = 0; i < 8; i++) {
        expect((await socket.request('pay-now', { id: 'r1' })).event).toBe('paid');
        const lock = await other.tryAcquire('order:r1');
        expect(lock).not.toBeNull();
        await lock!.release();
      }
    } finally {
      for (const node of cluster.nodes) node.proxy.setLatency(0);
    }
  });
});
