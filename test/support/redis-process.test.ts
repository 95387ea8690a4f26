import { describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { locateRedisServer, RedisProcess, RedisStartError } from './redis-process.js';

async function withDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'redis-process-'));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('locateRedisServer', () => {
  it('finds redis-server on PATH', () => {
    expect(locateRedisServer()).toMatch(/\/redis-server$/);
  });

  it('explains how to install it when missing', () => {
    expect(() => locateRedisServer('/nonexistent-dir')).toThrow(
      'redis-server not found on PATH: install it with `apt-get install -y redis-server` (Debian/Ubuntu)',
    );
  });
});

describe('RedisProcess.start', () => {
  it('reports a taken port as addressInUse, with the log tail', async () => {
    const squatter = createServer((socket) => socket.destroy()); // close() waits for its connections.
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const address = squatter.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const error = await withDir((dir) => RedisProcess.start({ port, dir, appendOnly: false })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedisStartError);
      expect((error as RedisStartError).addressInUse).toBe(true);
      expect((error as RedisStartError).message).toMatch(/exited during startup[\s\S]*Address already in use/);
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  it('gives up after startTimeoutMs with a clear error and leaves nothing running', async () => {
    const port = await freePort();
    const error = await withDir((dir) =>
      RedisProcess.start({ port, dir, appendOnly: false, startTimeoutMs: 1 }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisStartError);
    expect((error as RedisStartError).message).toMatch(/did not answer PING within 1 ms/);
    // The port is free again: the half-started server was killed.
    const again = await withDir((dir) => RedisProcess.start({ port, dir, appendOnly: false }));
    await again.kill();
  });
});
