import { describe, expect, it } from '@jest/globals';
import { NodeRestartGuard, parseInfo } from '../../lib/core/node-restart-guard.js';
import { FakeClock } from '../support/fake-clock.js';

describe('restart guard timing (rule 15) with a fake clock', () => {
  it('a node that is not yet verified since it connected does not count', () => {
    const guard = new NodeRestartGuard(new FakeClock(), () => 1_000);
    expect(guard.vetoReason()).toMatch(/not yet verified/);
  });

  it('a non-durable node counts again one window after its start, not before', async () => {
    const clock = new FakeClock();
    const guard = new NodeRestartGuard(clock, () => 1_000);
    guard.learn({ startedAt: clock.now() - 400, durable: false, runId: 'r1' });
    expect(guard.vetoReason()).toMatch(/restarted recently.*600 ms/);
    await clock.advance(599);
    expect(guard.vetoReason()).toBeDefined();
    await clock.advance(1);
    expect(guard.vetoReason()).toBeUndefined();
  });

  it('a durable node (AOF, appendfsync always) counts at once', () => {
    const clock = new FakeClock();
    const guard = new NodeRestartGuard(clock, () => 1_000);
    guard.learn({ startedAt: clock.now(), durable: true, runId: 'r1' });
    expect(guard.vetoReason()).toBeUndefined();
  });

  it('a dropped connection forgets what was known; a window of 0 turns the guard off', () => {
    const clock = new FakeClock();
    let window = 1_000;
    const guard = new NodeRestartGuard(clock, () => window);
    guard.learn({ startedAt: clock.now() - 5_000, durable: false, runId: 'r1' });
    expect(guard.vetoReason()).toBeUndefined();
    guard.forget();
    expect(guard.vetoReason()).toBeDefined();
    window = 0;
    expect(guard.vetoReason()).toBeUndefined();
  });

  it('reads uptime, run id and AOF state from INFO', () => {
    const info = '# Server\r\nredis_version:7.0.15\r\nrun_id:abc123\r\nuptime_in_seconds:42\r\n\r\n# Persistence\r\naof_enabled:1\r\n';
    expect(parseInfo(info)).toEqual({ uptimeSeconds: 42, runId: 'abc123', aofEnabled: true });
    expect(parseInfo('# Server\r\n')).toEqual({ uptimeSeconds: undefined, runId: undefined, aofEnabled: false });
  });
});
