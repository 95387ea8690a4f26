import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, Module, Scope } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import {
  Locked,
  LockedInterceptor,
  Redlock,
  RedlockConfigError,
  RedlockModule,
  RedlockService,
} from '../../lib/index.js';
import type { RedlockModuleOptions, RedlockOptionsFactory } from '../../lib/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';
import { CapturingLogger, keysOn } from './lock-keys.js';

let cluster: RedisNodes;
beforeAll(async () => {
  cluster = await startRedisNodes(3);
});
afterAll(async () => {
  await cluster?.stop();
});

/**
 * Nest runs no shutdown hook for an application that fails to start, so nothing would close
 * connections a half-built module opened: failing starts get clients that stop() closes.
 */
function directClients(): Redis[] {
  return cluster.nodes.map((n) => n.client());
}

async function start(imports: unknown[], providers: unknown[] = [], logger?: CapturingLogger): Promise<TestingModule> {
  const builder = Test.createTestingModule({ imports: imports as never[], providers: providers as never[] });
  if (logger) builder.setLogger(logger);
  const ref = await builder.compile();
  await ref.init();
  return ref;
}

@Injectable()
class Consumer {
  constructor(readonly redlock: RedlockService) {}
}

/** A feature module that does not import RedlockModule itself. */
@Module({ providers: [Consumer], exports: [Consumer] })
class FeatureModule {}

describe('RedlockModule.forRoot', () => {
  it('provides the core Redlock, RedlockService and LockedInterceptor, and is global by default', async () => {
    const ref = await start([RedlockModule.forRoot({ nodes: cluster.urls() }), FeatureModule]);
    try {
      expect(ref.get(Redlock)).toBeInstanceOf(Redlock);
      expect(ref.get(RedlockService).redlock).toBe(ref.get(Redlock));
      expect(ref.get(LockedInterceptor)).toBeInstanceOf(LockedInterceptor);
      // FeatureModule never imported RedlockModule: the service reached it because the module is global.
      expect(ref.get(Consumer).redlock).toBe(ref.get(RedlockService));
      const lock = await ref.get(Consumer).redlock.acquire('module:global');
      expect((await lock.release()).released).toBe(true);
    } finally {
      await ref.close();
    }
  });

  it('with isGlobal: false, a module that does not import it cannot inject RedlockService', async () => {
    await expect(start([RedlockModule.forRoot({ nodes: directClients(), isGlobal: false }), FeatureModule])).rejects.toThrow(
      /RedlockService/,
    );
  });
});

describe('RedlockModule.forRootAsync', () => {
  const CONFIG = Symbol('CONFIG');
  @Module({ providers: [{ provide: CONFIG, useFactory: () => ({ urls: cluster.urls() }) }], exports: [CONFIG] })
  class ConfigModule {}

  let created = 0;
  @Injectable()
  class RedlockConfig implements RedlockOptionsFactory {
    constructor() {
      created++;
    }
    createRedlockOptions(): RedlockModuleOptions {
      return { nodes: cluster.urls(), keyPrefix: 'async:' };
    }
  }
  @Module({ providers: [RedlockConfig], exports: [RedlockConfig] })
  class RedlockConfigModule {}

  async function prefixOf(imports: unknown[]): Promise<string> {
    const ref = await start(imports);
    try {
      return ref.get(Redlock).keyPrefix;
    } finally {
      await ref.close();
    }
  }

  it('useFactory gets what it injects from the modules it imports', async () => {
    const prefix = await prefixOf([
      RedlockModule.forRootAsync({
        imports: [ConfigModule],
        inject: [CONFIG],
        useFactory: async (config: { urls: string[] }) => ({ nodes: config.urls, keyPrefix: 'factory:' }),
      }),
    ]);
    expect(prefix).toBe('factory:');
  });

  it('useClass instantiates the options factory class', async () => {
    created = 0;
    expect(await prefixOf([RedlockModule.forRootAsync({ useClass: RedlockConfig })])).toBe('async:');
    expect(created).toBe(1);
  });

  it('useExisting reuses the provider of an imported module instead of making another', async () => {
    created = 0;
    expect(await prefixOf([RedlockModule.forRootAsync({ imports: [RedlockConfigModule], useExisting: RedlockConfig })])).toBe('async:');
    expect(created).toBe(1);
  });

  it('forRootAsync is global by default and honours isGlobal: false', async () => {
    const ref = await start([RedlockModule.forRootAsync({ useFactory: () => ({ nodes: cluster.urls() }) }), FeatureModule]);
    await ref.close();
    await expect(
      start([RedlockModule.forRootAsync({ isGlobal: false, useFactory: () => ({ nodes: directClients() }) }), FeatureModule]),
    ).rejects.toThrow(/RedlockService/);
  });
});

describe('RedlockModule start-up with a bad configuration', () => {
  it.each([
    [{ nodes: [] }, 'nodes'],
    [{ nodes: ['redis://127.0.0.1:1'], ttl: -1 }, 'options.ttl'],
    [{ nodes: ['redis://127.0.0.1:1'], retryDelay: 1.5 }, 'options.retryDelay'],
    [{ nodes: ['redis://127.0.0.1:1'], keyPrefix: '' }, 'options.keyPrefix'],
    [{ nodes: ['redis://127.0.0.1:1'], ttl: 1000, nodeTimeout: 2000 }, 'options.nodeTimeout'],
    [{ nodes: ['redis://127.0.0.1:1'], tll: 1000 }, 'options.tll'],
    [{ nodes: ['redis://127.0.0.1:1', { port: 70_000 }] }, 'nodes[1].port'],
  ])('fails with RedlockConfigError naming the field (%j)', async (options, field) => {
    const error = await start([RedlockModule.forRoot(options as RedlockModuleOptions)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).field).toBe(field);
    expect((error as Error).message).toContain(field);
  });

  it('never puts the password of a redis://user:secret@ URL in the error or the logs', async () => {
    const logger = new CapturingLogger();
    const error = await start(
      [RedlockModule.forRoot({ nodes: ['redis://admin:s3cr3t-pw@127.0.0.1:6379', 'http://admin:s3cr3t-pw@127.0.0.1:6380', 'redis://admin:s3cr3t-pw@:::bad'] })],
      [],
      logger,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedlockConfigError);
    expect((error as RedlockConfigError).field).toBe('nodes[1]');
    expect(`${(error as Error).message} ${(error as Error).stack}`).not.toContain('s3cr3t');
    expect(logger.lines.join('\n')).not.toContain('s3cr3t');
  });

  it('logs a node that is down with host:port only, never the password of its URL', async () => {
    const logger = new CapturingLogger();
    const closedPort = cluster.nodes[0]!.port + 40_000 > 65_535 ? 1 : cluster.nodes[0]!.port + 40_000;
    const ref = await start(
      [RedlockModule.forRoot({ nodes: [...cluster.urls().slice(0, 2), `redis://admin:s3cr3t-pw@127.0.0.1:${closedPort}`] })],
      [],
      logger,
    );
    try {
      // Two of three nodes are enough for a quorum. Many commands meet the dead node, and its
      // client keeps retrying meanwhile: still one warning.
      for (let i = 0; i < 10; i++) {
        const lock = await ref.get(RedlockService).acquire(`module:down-node:${i}`);
        await lock.release();
      }
      await new Promise((resolve) => setTimeout(resolve, 800));
      const down = logger.lines.filter((l) => l.includes('is down'));
      expect(down).toHaveLength(1);
      expect(down[0]).toMatch(new RegExp(`^warn Redis node #2 \\(127\\.0\\.0\\.1:${closedPort}\\) is down`));
      expect(logger.lines.join('\n')).not.toContain('s3cr3t');
    } finally {
      await ref.close();
    }
  });
});

describe('RedlockModule shutdown', () => {
  it('closes the connections it opened from URLs and options, but not the ioredis instances passed in', async () => {
    const mine = new Redis(cluster.nodes[2]!.url, { maxRetriesPerRequest: 1 });
    try {
      const ref = await start([
        RedlockModule.forRoot({ nodes: [cluster.nodes[0]!.url, { host: '127.0.0.1', port: cluster.nodes[1]!.port }, mine] }),
      ]);
      const clients = ref.get(Redlock).clients;
      await (await ref.get(RedlockService).acquire('module:connections')).release();
      await ref.close();
      expect(clients[0]!.status).toBe('end');
      expect(clients[1]!.status).toBe('end');
      expect(clients[2]).toBe(mine);
      expect(mine.status).toBe('ready');
      expect(await mine.ping()).toBe('PONG');
    } finally {
      mine.disconnect();
    }
  });

  it('releases the locks still held and stops their auto-extension', async () => {
    const clients = cluster.nodes.map((n) => n.client());
    const ref = await start([RedlockModule.forRoot({ nodes: clients, ttl: 600 })]);
    const lock = await ref.get(RedlockService).acquire('module:held', { autoExtend: true });
    expect((await keysOn(cluster, 'lock:module:held')).flat().length).toBeGreaterThanOrEqual(2); // a quorum

    const monitor = await cluster.nodes[0]!.client().monitor();
    try {
      const scripts: string[] = [];
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (/^eval/i.test(args[0] ?? '')) scripts.push(args.join(' '));
      });
      await ref.close();
      expect(lock.remaining).toBe(0);
      expect((await keysOn(cluster, 'lock:module:held')).flat()).toHaveLength(0);
      const afterClose = scripts.length;
      // Auto-extension would have run every ttl/3 (200 ms) on the clients we passed in, still open.
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(scripts.slice(afterClose)).toEqual([]);
      expect(clients.every((c) => c.status === 'ready')).toBe(true);
    } finally {
      monitor.disconnect();
    }
  });
});

describe('two RedlockModules', () => {
  @Injectable()
  class Billing {
    @Locked('job:<name>')
    async run(name: string, check: () => Promise<void>) {
      await check();
    }
  }
  it('bind each provider to the RedlockModule its own module imports', async () => {
    @Injectable()
    class Shipping {
      @Locked('job:<name>')
      async run(name: string, check: () => Promise<void>) {
        await check();
      }
    }
    @Module({ imports: [RedlockModule.forRoot({ nodes: cluster.urls(), keyPrefix: 'billing:', isGlobal: false })], providers: [Billing], exports: [Billing] })
    class BillingModule {}
    @Module({ imports: [RedlockModule.forRoot({ nodes: cluster.urls(), keyPrefix: 'shipping:', isGlobal: false })], providers: [Shipping], exports: [Shipping] })
    class ShippingModule {}

    const ref = await start([BillingModule, ShippingModule]);
    try {
      const seen: string[][] = [];
      const record = async () => {
        seen.push([...new Set((await keysOn(cluster, '*:job:*')).flat())]);
      };
      await ref.get(Billing).run('nightly', record);
      await ref.get(Shipping).run('nightly', record);
      expect(seen).toEqual([['billing:job:nightly'], ['shipping:job:nightly']]);
      expect((await keysOn(cluster, '*:job:*')).flat()).toEqual([]);
    } finally {
      await ref.close();
    }
  });

  it('bind a request-scoped provider (made after start-up) through its class', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class Audit {
      @Locked('job:<name>')
      async run(name: string, check: () => Promise<void>) {
        await check();
      }
    }
    @Module({ imports: [RedlockModule.forRoot({ nodes: cluster.urls(), keyPrefix: 'billing:', isGlobal: false })], providers: [Billing] })
    class BillingModule {}
    @Module({ imports: [RedlockModule.forRoot({ nodes: cluster.urls(), keyPrefix: 'audit:', isGlobal: false })], providers: [Audit] })
    class AuditModule {}

    const ref = await start([BillingModule, AuditModule]);
    try {
      const audit = await ref.resolve(Audit);
      let seen: string[] = [];
      await audit.run('weekly', async () => {
        seen = [...new Set((await keysOn(cluster, '*:job:*')).flat())];
      });
      expect(seen).toEqual(['audit:job:weekly']);
    } finally {
      await ref.close();
    }
  });
});

describe('RedlockService logging', () => {
  it('logs a lock lost while held (extension failed) as a warning', async () => {
    const logger = new CapturingLogger();
    const ref = await start([RedlockModule.forRoot({ nodes: cluster.urls(), ttl: 300 })], [], logger);
    try {
      const lock = await ref.get(RedlockService).acquire('module:lost', { autoExtend: true });
      cluster.nodes[1]!.proxy.stall();
      cluster.nodes[2]!.proxy.stall();
      for (let i = 0; i < 50 && !lock.signal.aborted; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(lock.signal.aborted).toBe(true);
      expect(logger.lines.filter((l) => l.includes('lost'))).toEqual([
        expect.stringMatching(/^warn lock on "module:lost" lost: /),
      ]);
    } finally {
      cluster.nodes[1]!.proxy.unstall();
      cluster.nodes[2]!.proxy.unstall();
      await ref.close();
    }
  });
});
