import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { MetricData } from '@opentelemetry/sdk-metrics';
import { LockBusyError, QuorumUnavailableError, Redlock, RedlockConfigError } from '../../lib/core/index.js';
import { instrumentRedlock } from '../../lib/opentelemetry/index.js';
import { startRedisNodes, type RedisNodes } from '../support/redis-nodes.js';

/** Metrics on demand: the test collects when it wants to look, no export timer. */
class OnDemandReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

let nodes: RedisNodes;
let redlock: Redlock;
let spans: InMemorySpanExporter;
let tracing: BasicTracerProvider;
let reader: OnDemandReader;
let metering: MeterProvider;
let stop: () => void;

beforeEach(async () => {
  nodes = await startRedisNodes(3);
  redlock = new Redlock(nodes.urls(), { ttl: 2_000, retryDelay: 20, retryJitter: 10 });
  spans = new InMemorySpanExporter();
  tracing = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  reader = new OnDemandReader();
  metering = new MeterProvider({ readers: [reader] });
  stop = instrumentRedlock(redlock, { tracer: tracing.getTracer('test'), meter: metering.getMeter('test') });
});
afterEach(async () => {
  stop?.();
  await redlock?.quit();
  await nodes?.stop();
  await tracing?.shutdown();
  await metering?.shutdown();
});

const ms = ([seconds, nanos]: readonly [number, number]): number => seconds * 1e3 + nanos / 1e6;
const finished = (name: string): ReadableSpan[] => spans.getFinishedSpans().filter((span) => span.name === name);

async function metric(name: string): Promise<MetricData | undefined> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === name);
}

/** The sum of a counter's data points (0 when it never counted). */
async function total(name: string): Promise<number> {
  const data = await metric(name);
  return (data?.dataPoints ?? []).reduce((sum, point) => sum + (point.value as number), 0);
}

describe('instrumentRedlock', () => {
  it('traces a granted lock, its extension and its release', async () => {
    const before = Date.now();
    const lock = await redlock.acquire('order:1');
    await lock.extend(3_000);
    await expect(lock.release()).resolves.toMatchObject({ released: true });

    const [acquire] = finished('redlock.acquire');
    expect(acquire).toBeDefined();
    expect(acquire!.attributes).toMatchObject({
      'redlock.outcome': 'granted',
      'redlock.attempts': 1,
      'redlock.votes.no': 0,
      'redlock.votes.errors': 0,
      'redlock.resources.count': 1,
      'redlock.mode': 'write',
      'redlock.nodes': 3,
      'redlock.fenced': false,
      'redlock.try': false,
    });
    // The round is decided once a quorum said yes; a third yes may come after.
    expect(acquire!.attributes['redlock.votes.yes']).toBeGreaterThanOrEqual(2);
    const validity = acquire!.attributes['redlock.validity_ms'] as number;
    expect(validity).toBeGreaterThan(1_500);
    expect(validity).toBeLessThanOrEqual(2_000);
    expect(acquire!.attributes['redlock.resources']).toBeUndefined();
    expect(acquire!.status.code).toBe(SpanStatusCode.UNSET);

    const [extend] = finished('redlock.extend');
    expect(extend!.attributes).toMatchObject({ 'redlock.outcome': 'granted', 'redlock.votes.errors': 0 });
    expect(extend!.attributes['redlock.votes.yes']).toBeGreaterThanOrEqual(2);
    expect(extend!.attributes['redlock.validity_ms']).toBeGreaterThan(2_000);

    const [release] = finished('redlock.release');
    expect(release!.attributes).toMatchObject({ 'redlock.outcome': 'released', 'redlock.votes.no': 0 });
    expect(release!.attributes['redlock.votes.yes']).toBeGreaterThanOrEqual(2);
    // Written when each had settled, the spans still start when their call did, in that order.
    expect(ms(acquire!.startTime)).toBeGreaterThanOrEqual(before - 2);
    expect(ms(acquire!.startTime)).toBeLessThanOrEqual(ms(extend!.startTime));
    expect(ms(extend!.startTime)).toBeLessThanOrEqual(ms(release!.startTime));
    expect(finished('redlock.acquire')).toHaveLength(1);
  });

  it('traces busy answers: tryAcquire once, acquire after its attempts', async () => {
    const holder = await redlock.acquire('order:2');
    await expect(redlock.tryAcquire('order:2')).resolves.toBeNull();
    await expect(redlock.acquire('order:2', { wait: 150 })).rejects.toThrow(LockBusyError);
    await holder.release();

    const busy = finished('redlock.acquire').filter((span) => span.attributes['redlock.outcome'] === 'busy');
    expect(busy).toHaveLength(2);
    const [once, waited] = busy;
    expect(once!.attributes).toMatchObject({ 'redlock.try': true, 'redlock.attempts': 1, 'redlock.votes.yes': 0 });
    expect(once!.attributes['redlock.votes.no']).toBeGreaterThanOrEqual(2);
    expect(waited!.attributes['redlock.try']).toBe(false);
    expect(waited!.attributes['redlock.attempts']).toBeGreaterThanOrEqual(2);
    expect(waited!.attributes['redlock.validity_ms']).toBeUndefined();
    // Busy is an answer, not a failure of the lock service.
    expect(waited!.status.code).toBe(SpanStatusCode.UNSET);
    expect(ms(waited!.duration)).toBeGreaterThanOrEqual(140);

    expect(await total('redlock.acquire.busy')).toBe(2);
    const histogram = await metric('redlock.acquire.duration');
    expect(histogram?.dataPointType).toBe(DataPointType.HISTOGRAM);
    const byOutcome = new Map(histogram!.dataPoints.map((point) => [point.attributes['redlock.outcome'], point.value as { count: number; sum: number }]));
    expect(byOutcome.get('granted')?.count).toBe(1);
    expect(byOutcome.get('busy')?.count).toBe(2);
    // The waiting acquire waited its 150 ms.
    expect(byOutcome.get('busy')!.sum).toBeGreaterThanOrEqual(140);
  });

  it('counts the locks held, up on acquire and down on release or loss', async () => {
    const first = await redlock.acquire('job:a');
    const second = await redlock.acquire('job:b', { ttl: 300 });
    expect(await total('redlock.locks.held')).toBe(2);

    await first.release();
    expect(await total('redlock.locks.held')).toBe(1);

    // Not extended: the signal aborts before its 300 ms run out.
    await new Promise((resolve) => second.signal.addEventListener('abort', resolve, { once: true }));
    expect(await total('redlock.locks.held')).toBe(0);
    expect(await total('redlock.lock.lost')).toBe(1);
    // Releasing the lost lock does not count it down twice.
    await second.release();
    expect(await total('redlock.locks.held')).toBe(0);
    expect(await total('redlock.acquire.unavailable')).toBe(0);
  });

  it('marks an unavailable acquire as an error and counts it', async () => {
    await redlock.acquire('warm-up').then((lock) => lock.release());
    await nodes.nodes[0]!.kill();
    await nodes.nodes[1]!.kill();
    await expect(redlock.acquire('order:3')).rejects.toThrow(QuorumUnavailableError);

    const span = finished('redlock.acquire').find((s) => s.attributes['redlock.outcome'] === 'unavailable');
    expect(span).toBeDefined();
    expect(span!.attributes['redlock.votes.errors']).toBeGreaterThanOrEqual(2);
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.events.map((event) => event.name)).toContain('exception');
    expect(await total('redlock.acquire.unavailable')).toBe(1);
  });

  it('puts resource names on spans only when asked', async () => {
    stop();
    stop = instrumentRedlock(redlock, { tracer: tracing.getTracer('test'), recordResources: true });
    const lock = await redlock.acquire(['a', 'b']);
    await lock.release();
    const [span] = finished('redlock.acquire');
    expect(span!.attributes).toMatchObject({ 'redlock.resources': ['a', 'b'], 'redlock.resources.count': 2 });
  });

  it('stops listening when told to, and then records nothing', async () => {
    stop();
    expect(redlock.listenerCount('acquireSettled') + redlock.listenerCount('extendSettled') + redlock.listenerCount('releaseSettled')).toBe(0);
    const lock = await redlock.acquire('quiet');
    await lock.extend();
    await lock.release();
    expect(spans.getFinishedSpans()).toHaveLength(0);
    expect(await total('redlock.locks.held')).toBe(0);
  });

  it('a telemetry listener that throws changes no lock answer: it becomes a warning', async () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const broken = () => {
      throw new Error('exporter down');
    };
    redlock.on('acquireSettled', broken);
    redlock.on('extendSettled', broken);
    redlock.on('releaseSettled', broken);
    try {
      const lock = await redlock.acquire('order:4');
      await expect(lock.extend()).resolves.toBeUndefined();
      await expect(lock.release()).resolves.toMatchObject({ released: true });
      const warnings = warn.mock.calls.map(([message]) => String(message));
      expect(warnings.filter((w) => w.includes('exporter down'))).toHaveLength(3);
      // The instrumentation listening beside it still recorded all three.
      expect(spans.getFinishedSpans().map((span) => span.name)).toEqual(['redlock.acquire', 'redlock.extend', 'redlock.release']);
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses bad arguments with RedlockConfigError naming the field', () => {
    const tracer = tracing.getTracer('test');
    expect(() => instrumentRedlock({} as Redlock, { tracer })).toThrow(/redlock/);
    expect(() => instrumentRedlock(redlock, {})).toThrow(RedlockConfigError);
    expect(() => instrumentRedlock(redlock, { tracer: {} as never })).toThrow(/options\.tracer/);
    expect(() => instrumentRedlock(redlock, { meter: 'meter' as never })).toThrow(/options\.meter/);
    expect(() => instrumentRedlock(redlock, { tracer, recordResources: 'yes' as never })).toThrow(/options\.recordResources/);
  });
});
