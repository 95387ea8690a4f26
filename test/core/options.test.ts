import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { Redlock } from '../../lib/core/redlock.js';
import { RedlockConfigError } from '../../lib/core/errors.js';
import { DEFAULTS, defaultNodeTimeout } from '../../lib/core/options.js';

// A client that never connects: validation must fail before any connection is used.
const idle = () => new Redis({ lazyConnect: true });

function configError(fn: () => unknown): RedlockConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RedlockConfigError);
    return error as RedlockConfigError;
  }
  throw new Error('expected a RedlockConfigError');
}

describe('bad options and arguments give RedlockConfigError naming the field', () => {
  it.each<[string, unknown, unknown, string]>([
    ['nodes is not an array', 'redis://x', {}, 'nodes'],
    ['nodes is empty', [], {}, 'nodes'],
    ['a node is a number', [6379], {}, 'nodes[0]'],
    ['a node URL is malformed', ['not a url'], {}, 'nodes[0]'],
    ['a node URL has the wrong scheme', ['http://localhost:6379'], {}, 'nodes[0]'],
    ['a node port is out of range', [{ host: 'a', port: 70_000 }], {}, 'nodes[0].port'],
    ['a node host is empty', [{ host: '' }], {}, 'nodes[0].host'],
    ['options is not an object', [{}], 42, 'options'],
    ['ttl is zero', [{}], { ttl: 0 }, 'options.ttl'],
    ['ttl is fractional', [{}], { ttl: 10.5 }, 'options.ttl'],
    ['ttl is a string', [{}], { ttl: '10s' }, 'options.ttl'],
    ['ttl exceeds a timer', [{}], { ttl: 2 ** 31 }, 'options.ttl'],
    ['wait is negative', [{}], { wait: -1 }, 'options.wait'],
    ['wait is NaN', [{}], { wait: Number.NaN }, 'options.wait'],
    ['retryDelay is negative', [{}], { retryDelay: -5 }, 'options.retryDelay'],
    ['retryJitter is Infinity', [{}], { retryJitter: Infinity }, 'options.retryJitter'],
    ['driftFactor is negative', [{}], { driftFactor: -0.1 }, 'options.driftFactor'],
    ['driftFactor is too large', [{}], { driftFactor: 0.9 }, 'options.driftFactor'],
    ['nodeTimeout is zero', [{}], { nodeTimeout: 0 }, 'options.nodeTimeout'],
    ['nodeTimeout is not below ttl', [{}], { ttl: 100, nodeTimeout: 100 }, 'options.nodeTimeout'],
    ['keyPrefix is empty', [{}], { keyPrefix: '' }, 'options.keyPrefix'],
    ['keyPrefix is not a string', [{}], { keyPrefix: 5 }, 'options.keyPrefix'],
    ['an option is misspelled', [{}], { ttL: 100 }, 'options.ttL'],
    ['clock lacks setTimer', [{}], { clock: { now: () => 0 } }, 'options.clock'],
  ])('new Redlock: %s', (_what, nodes, options, field) => {
    const error = configError(() => new Redlock(nodes as never, options as never));
    expect(error.field).toBe(field);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain(field);
  });

  it('a node URL with credentials is never echoed back', () => {
    const error = configError(() => new Redlock(['redis://admin:s3cret@ho st:6379'] as never));
    expect(error.message).not.toContain('s3cret');
    const wrongScheme = configError(() => new Redlock(['http://admin:s3cret@host:6379'] as never));
    expect(wrongScheme.message).not.toContain('s3cret');
  });

  describe('per-call arguments (no node is contacted)', () => {
    const client = idle();
    const redlock = new Redlock([client]);
    afterAll(async () => {
      await redlock.quit();
      client.disconnect();
    });

    it.each<[string, unknown, unknown, string]>([
      ['resources is empty string', '', undefined, 'resources'],
      ['resources is an empty array', [], undefined, 'resources'],
      ['a resource is not a string', ['a', 7], undefined, 'resources[1]'],
      ['a resource is an empty string', ['a', ''], undefined, 'resources[1]'],
      ['resources repeat', ['a', 'a'], undefined, 'resources'],
      ['resources is an object', { a: 1 }, undefined, 'resources'],
      ['ttl is negative', 'r', { ttl: -1 }, 'options.ttl'],
      ['ttl is not above the node timeout', 'r', { ttl: 1 }, 'options.ttl'],
      ['wait is a string', 'r', { wait: '1s' }, 'options.wait'],
      ['signal is not an AbortSignal', 'r', { signal: {} }, 'options.signal'],
      ['autoExtend is not a boolean', 'r', { autoExtend: 'yes' }, 'options.autoExtend'],
      ['an option is unknown', 'r', { timeout: 5 }, 'options.timeout'],
    ])('acquire, tryAcquire and using reject: %s', async (_what, resources, options, field) => {
      for (const call of [
        () => redlock.acquire(resources as never, options as never),
        () => redlock.tryAcquire(resources as never, options as never),
        () => redlock.using(resources as never, () => 1, options as never),
      ]) {
        await expect(call()).rejects.toMatchObject({ code: 'INVALID_CONFIG', field });
      }
      expect(client.status).toBe('wait');
    });

    it('using rejects a routine that is not a function', async () => {
      await expect(redlock.using('r', 'nope' as never)).rejects.toMatchObject({ field: 'routine' });
    });

  });
});

describe('defaults', () => {
  it('fit an HTTP service: ttl 10 s, wait 5 s, keys under lock:', () => {
    expect(DEFAULTS).toMatchObject({ ttl: 10_000, wait: 5_000, keyPrefix: 'lock:' });
  });

  it('the per-node timeout is a few percent of the ttl, clamped to tens of ms, and below the ttl', () => {
    expect(defaultNodeTimeout(10_000)).toBe(500);
    expect(defaultNodeTimeout(1_000)).toBe(50);
    expect(defaultNodeTimeout(60_000)).toBe(500);
    expect(defaultNodeTimeout(40)).toBe(20);
  });
});
