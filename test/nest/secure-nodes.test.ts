import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { QuorumUnavailableError, RedlockModule, RedlockService } from '../../lib/index.js';
import type { RedlockModuleOptions } from '../../lib/index.js';
import { startSecureRedis } from '../support/secure-redis.js';
import type { SecureRedis } from '../support/secure-redis.js';
import { CapturingLogger } from './lock-keys.js';

/**
 * Nodes as production runs them: an ACL user with a password (the default user is off) and TLS.
 * The password has the characters that must be percent-encoded in a URL.
 */
const USER = 'locker';
const PASSWORD = 'Pa55:w@rd/with space%';
const WRONG = 'Wr0ng-Pa55word-9f3';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let secure: SecureRedis;
beforeAll(async () => {
  secure = await startSecureRedis(3, { user: USER, password: PASSWORD });
});
afterAll(async () => {
  await secure?.stop();
});

function url(scheme: 'redis' | 'rediss', password: string, port: number): string {
  return `${scheme}://${USER}:${encodeURIComponent(password)}@${secure.host}:${port}`;
}

async function start(options: RedlockModuleOptions, logger = new CapturingLogger()): Promise<TestingModule> {
  const ref = await Test.createTestingModule({ imports: [RedlockModule.forRoot(options)] }).setLogger(logger).compile();
  await ref.init();
  return ref;
}

/** The lock's value as stored on every node, read with the ACL user over plain TCP. */
async function storedValues(key: string): Promise<(string | null)[]> {
  const clients = secure.nodes.map((n) => new Redis({ host: secure.host, port: n.port, username: USER, password: PASSWORD }));
  try {
    return await Promise.all(clients.map((c) => c.get(key)));
  } finally {
    for (const c of clients) c.disconnect();
  }
}

describe('RedlockModule on nodes with an ACL user and TLS', () => {
  it('redis://user:password@ URLs (password percent-encoded) authenticate as the ACL user', async () => {
    const ref = await start({ nodes: secure.nodes.map((n) => url('redis', PASSWORD, n.port)) });
    try {
      await ref.get(RedlockService).using('secure:acl', async (lock) => {
        expect(await storedValues('lock:secure:acl')).toEqual([lock.value, lock.value, lock.value]);
      });
      expect(await storedValues('lock:secure:acl')).toEqual([null, null, null]);
    } finally {
      await ref.close();
    }
  });

  it('ioredis option objects with username, password and tls.ca connect over TLS', async () => {
    const nodes = secure.nodes.map((n) => ({ host: secure.host, port: n.tlsPort, username: USER, password: PASSWORD, tls: { ca: secure.caPem } }));
    const ref = await start({ nodes });
    try {
      await ref.get(RedlockService).using('secure:tls-options', async (lock) => {
        expect(await storedValues('lock:secure:tls-options')).toEqual([lock.value, lock.value, lock.value]);
      });
    } finally {
      await ref.close();
    }
  });

  it('rediss://user:password@ URLs connect over TLS to nodes whose certificate the process trusts', async () => {
    const urls = secure.nodes.map((n) => url('rediss', PASSWORD, n.tlsPort));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', './tools/ts-register.mjs', 'test/nest/fixtures/rediss-child.ts', ...urls],
      { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '', NODE_EXTRA_CA_CERTS: secure.caFile }, timeout: 20_000 },
    );
    expect(JSON.parse(stdout.trim())).toEqual({ resources: ['secure:rediss'], holders: 3 });
    expect(await storedValues('lock:secure:rediss')).toEqual([null, null, null]);
  });

  it('a wrong password is QUORUM_UNAVAILABLE, with neither password in the error or the logs', async () => {
    const logger = new CapturingLogger();
    const ref = await start({ nodes: secure.nodes.map((n) => url('redis', WRONG, n.port)) }, logger);
    try {
      const error = await ref.get(RedlockService).acquire('secure:wrong', { wait: 0 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QuorumUnavailableError);
      // The down warning names the reason (the error itself may only say that a node is
      // reconnecting, depending on where its retry loop is).
      expect(logger.lines.some((l) => l.includes('is down: WRONGPASS'))).toBe(true);
      const seen = `${(error as Error).message}\n${JSON.stringify(error)}\n${logger.lines.join('\n')}`;
      for (const secret of [WRONG, PASSWORD, encodeURIComponent(WRONG), encodeURIComponent(PASSWORD)]) expect(seen).not.toContain(secret);
    } finally {
      await ref.close();
    }
  });

  it('a rediss:// node whose certificate is not trusted is QUORUM_UNAVAILABLE, not a hang or a crash', async () => {
    const logger = new CapturingLogger();
    const ref = await start({ nodes: secure.nodes.map((n) => url('rediss', PASSWORD, n.tlsPort)) }, logger);
    try {
      const error = await ref.get(RedlockService).acquire('secure:untrusted', { wait: 0 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QuorumUnavailableError);
      // The down warning names the reason.
      expect(logger.lines.some((l) => l.includes('is down: self-signed certificate'))).toBe(true);
      expect(logger.lines.join('\n')).not.toContain(PASSWORD);
    } finally {
      await ref.close();
    }
  });
});
