// The lock libraries the bench compares, each behind one small adapter, all configured alike:
// the same lease, the same retry pacing where they have one, no auto-extension.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Redlock as NestjsRedlock } from '../lib/core/index.js';
import { floorLock } from './floor.js';

const require = createRequire(import.meta.url);

export interface Held {
  release(): Promise<unknown>;
}

/** A library under test, over its own N ioredis clients. */
export interface Contender {
  readonly name: string;
  readonly version: string;
  /** One attempt: the lock, or null when it is busy. */
  tryLock(key: string): Promise<Held | null>;
  /** Waits (retrying at the shared pacing) until it holds the lock, up to the shared wait. */
  lock(key: string): Promise<Held>;
  /** Ours only: the same wait in arrival order (`fair: true`); no peer has a fair Redlock. */
  lockFair?(key: string): Promise<Held>;
  close(): Promise<void>;
}

export interface Pacing {
  readonly ttl: number;
  readonly wait: number;
  readonly retryDelay: number;
  readonly retryJitter: number;
}

type Maker = (urls: readonly string[], pacing: Pacing) => Contender;

function clientsFor(urls: readonly string[]): Redis[] {
  return urls.map((url) => {
    const client = new Redis(url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    return client;
  });
}

/** Read from the installed package itself (some packages do not export their package.json). */
function versionOf(name: string): string {
  const file = fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url));
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version.replace(/^v/, '');
}

async function closeAll(clients: Redis[]): Promise<void> {
  await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
}

const retryCount = (p: Pacing) => Math.max(1, Math.ceil(p.wait / p.retryDelay));

const nestjsRedlock: Maker = (urls, p) => {
  const clients = clientsFor(urls);
  const redlock = new NestjsRedlock(clients, { ttl: p.ttl, wait: p.wait, retryDelay: p.retryDelay, retryJitter: p.retryJitter });
  return {
    name: 'nestjs-redlock',
    version: (require('../package.json') as { version: string }).version,
    tryLock: (key) => redlock.tryAcquire(key),
    lock: (key) => redlock.acquire(key),
    lockFair: (key) => redlock.acquire(key, { fair: true }),
    close: async () => {
      await redlock.quit();
      await closeAll(clients);
    },
  };
};

const redlock4: Maker = (urls, p) => {
  const Redlock = require('redlock4') as new (clients: Redis[], options: object) => { lock(key: string, ttl: number): Promise<{ unlock(): Promise<void> }> };
  const clients = clientsFor(urls);
  const options = { driftFactor: 0.01, retryDelay: p.retryDelay, retryJitter: p.retryJitter };
  const waiting = new Redlock(clients, { ...options, retryCount: retryCount(p) });
  const once = new Redlock(clients, { ...options, retryCount: 0 });
  const held = (lock: { unlock(): Promise<void> }): Held => ({ release: async () => void (await lock.unlock().catch(() => undefined)) });
  return {
    name: 'redlock@4',
    version: versionOf('redlock4'),
    tryLock: (key) => once.lock(key, p.ttl).then(held, () => null),
    lock: async (key) => held(await waiting.lock(key, p.ttl)),
    close: () => closeAll(clients),
  };
};

/** redlock 5 (beta) and its maintained fork share one API. */
function redlock5Like(moduleName: string, label: string): Maker {
  return (urls, p) => {
    const loaded = require(moduleName) as { default?: unknown; Redlock?: unknown };
    const Redlock = (loaded.Redlock ?? loaded.default ?? loaded) as new (clients: Redis[], settings: object) => {
      acquire(keys: string[], ttl: number, settings?: object): Promise<{ release(): Promise<unknown> }>;
    };
    const clients = clientsFor(urls);
    const redlock = new Redlock(clients, {
      driftFactor: 0.01, retryCount: retryCount(p), retryDelay: p.retryDelay, retryJitter: p.retryJitter, automaticExtensionThreshold: 0,
    });
    const held = (lock: { release(): Promise<unknown> }): Held => ({ release: async () => void (await lock.release().catch(() => undefined)) });
    return {
      name: label,
      version: versionOf(moduleName),
      tryLock: (key) => redlock.acquire([key], p.ttl, { retryCount: 0 }).then(held, () => null),
      lock: async (key) => held(await redlock.acquire([key], p.ttl)),
      close: () => closeAll(clients),
    };
  };
}

const redisSemaphore: Maker = (urls, p) => {
  const { RedlockMutex } = require('redis-semaphore') as {
    RedlockMutex: new (clients: Redis[], key: string, options: object) => { tryAcquire(): Promise<boolean>; acquire(): Promise<void>; release(): Promise<void> };
  };
  const clients = clientsFor(urls);
  const options = { lockTimeout: p.ttl, acquireTimeout: p.wait, retryInterval: p.retryDelay, refreshInterval: 0 };
  const held = (mutex: { release(): Promise<void> }): Held => ({ release: async () => void (await mutex.release().catch(() => undefined)) });
  return {
    name: 'redis-semaphore',
    version: versionOf('redis-semaphore'),
    tryLock: async (key) => {
      const mutex = new RedlockMutex(clients, key, options);
      return (await mutex.tryAcquire()) ? held(mutex) : null;
    },
    lock: async (key) => {
      const mutex = new RedlockMutex(clients, key, options);
      await mutex.acquire();
      return held(mutex);
    },
    close: () => closeAll(clients),
  };
};

const floor: Maker = (urls, p) => {
  const clients = clientsFor(urls);
  const lock = floorLock(clients, p, () => randomBytes(16).toString('hex'));
  return { name: 'floor', version: 'SET NX PX + compare-and-delete', ...lock, close: () => closeAll(clients) };
};

/** Ours first, the raw floor last; the peers in between. */
export const LIBRARIES: readonly { readonly name: string; readonly make: Maker }[] = [
  { name: 'nestjs-redlock', make: nestjsRedlock },
  { name: 'redlock@4', make: redlock4 },
  { name: 'redlock@5-beta', make: redlock5Like('redlock5', 'redlock@5-beta') },
  { name: 'redis-semaphore', make: redisSemaphore },
  { name: '@sesamecare-oss/redlock', make: redlock5Like('@sesamecare-oss/redlock', '@sesamecare-oss/redlock') },
  { name: 'floor', make: floor },
];
