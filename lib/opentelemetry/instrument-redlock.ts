// Types only: this file loads nothing from @opentelemetry/api at run time. The caller hands in its
// own tracer and meter, so the package never pins or duplicates the API (and costs nothing
// to users who do not import this entry).
import type { Attributes, Counter, Histogram, Meter, Span, SpanStatusCode, Tracer, UpDownCounter } from '@opentelemetry/api';
import { RedlockConfigError, show } from '../core/errors.js';
import type { AcquireReport, ExtendReport, Lock, Redlock, ReleaseReport, RoundVotes } from '../core/index.js';

export interface RedlockInstrumentationOptions {
  /** Spans redlock.acquire, redlock.extend and redlock.release (none without a tracer). */
  tracer?: Tracer;
  /** The acquire latency histogram and the busy / unavailable / lost / held instruments (none without a meter). */
  meter?: Meter;
  /**
   * Put the resource names on spans as `redlock.resources` (default false: names often carry ids
   * of users or orders; the count is always there). Never on metrics, whose attributes must stay few.
   */
  recordResources?: boolean;
}

/** OpenTelemetry's SpanStatusCode.ERROR, spelled as its value so that no enum is loaded. */
const STATUS_ERROR = 2 as SpanStatusCode.ERROR;

interface Instruments {
  readonly acquireDuration: Histogram;
  readonly busy: Counter;
  readonly unavailable: Counter;
  readonly lost: Counter;
  readonly held: UpDownCounter;
}

function instrumentsOf(meter: Meter): Instruments {
  return {
    acquireDuration: meter.createHistogram('redlock.acquire.duration', {
      description: 'Time from an acquire call to its answer (waiting included), by outcome',
      unit: 'ms',
    }),
    busy: meter.createCounter('redlock.acquire.busy', { description: 'Acquire calls that found the resource held elsewhere (LockBusyError, or null from tryAcquire)' }),
    unavailable: meter.createCounter('redlock.acquire.unavailable', { description: 'Acquire calls that could not reach a quorum of nodes (QuorumUnavailableError)' }),
    lost: meter.createCounter('redlock.lock.lost', { description: 'Held locks lost before release (failed extension, or validity ran out)' }),
    held: meter.createUpDownCounter('redlock.locks.held', { description: 'Locks this process holds now' }),
  };
}

function voteAttributes(votes: RoundVotes): Attributes {
  return { 'redlock.votes.yes': votes.yes, 'redlock.votes.no': votes.no, 'redlock.votes.errors': votes.errors };
}

/** One span, written when the operation has settled: it started durationMs ago, and ends now. */
function recordSpan(tracer: Tracer, name: string, durationMs: number, attributes: Attributes, error?: Error): void {
  const end = Date.now();
  // The current context is the caller's (events are emitted in the call's own continuation), so
  // the span lands under the caller's span, e.g. the HTTP request that asked for the lock.
  const span: Span = tracer.startSpan(name, { startTime: end - durationMs, attributes });
  if (error) {
    span.recordException(error);
    span.setStatus({ code: STATUS_ERROR, message: error.message });
  }
  span.end(end);
}

/**
 * Traces and measures a Redlock through OpenTelemetry: spans `redlock.acquire` /
 * `redlock.extend` / `redlock.release` with attempts, votes, validity left and outcome, and the
 * metrics `redlock.acquire.duration` (histogram, ms), `redlock.acquire.busy`,
 * `redlock.acquire.unavailable`, `redlock.lock.lost` (counters) and `redlock.locks.held`
 * (up-down counter). It listens to the engine's telemetry events, which cost nothing until a
 * listener exists. Locks taken before this call are not counted. Returns a function that stops it.
 */
export function instrumentRedlock(redlock: Redlock, options: RedlockInstrumentationOptions): () => void {
  if (typeof redlock !== 'object' || redlock === null || typeof redlock.on !== 'function') {
    throw new RedlockConfigError('redlock', `must be a Redlock instance, got ${show(redlock)}`);
  }
  if (typeof options !== 'object' || options === null) {
    throw new RedlockConfigError('options', `must be an object with tracer and/or meter, got ${show(options)}`);
  }
  const { tracer, meter, recordResources = false } = options;
  if (tracer !== undefined && typeof tracer?.startSpan !== 'function') {
    throw new RedlockConfigError('options.tracer', `must be an OpenTelemetry Tracer (trace.getTracer(name)), got ${show(tracer)}`);
  }
  if (meter !== undefined && typeof meter?.createHistogram !== 'function') {
    throw new RedlockConfigError('options.meter', `must be an OpenTelemetry Meter (metrics.getMeter(name)), got ${show(meter)}`);
  }
  if (!tracer && !meter) throw new RedlockConfigError('options', 'needs a tracer, a meter, or both');
  if (typeof recordResources !== 'boolean') {
    throw new RedlockConfigError('options.recordResources', `must be a boolean, got ${show(recordResources)}`);
  }

  const instruments = meter ? instrumentsOf(meter) : undefined;
  const nodes = redlock.clients.length;
  /** Locks counted in redlock.locks.held, until released or lost (whichever comes first). */
  const held = new Map<Lock, () => void>();

  const lockAttributes = (lock: Pick<Lock, 'resources' | 'mode' | 'limit' | 'fence'>): Attributes => ({
    'redlock.resources.count': lock.resources.length,
    ...(recordResources ? { 'redlock.resources': [...lock.resources] } : {}),
    'redlock.mode': lock.mode,
    ...(lock.limit === undefined ? {} : { 'redlock.limit': lock.limit }),
    'redlock.nodes': nodes,
  });

  const stopHolding = (lock: Lock): void => {
    const forget = held.get(lock);
    if (!forget) return;
    held.delete(lock);
    forget();
    instruments?.held.add(-1, { 'redlock.mode': lock.mode });
  };

  const onAcquire = (report: AcquireReport): void => {
    if (tracer) {
      const attributes: Attributes = {
        ...lockAttributes(report),
        'redlock.fenced': report.fenced,
        'redlock.try': report.once,
        'redlock.outcome': report.outcome,
        'redlock.attempts': report.attempts,
        ...voteAttributes(report.votes),
        ...(report.validityMs === undefined ? {} : { 'redlock.validity_ms': Math.round(report.validityMs) }),
      };
      // Busy and aborted are answers, not failures of the lock service: only those mark the span.
      const failed = report.outcome === 'unavailable' || report.outcome === 'error' ? report.error : undefined;
      recordSpan(tracer, 'redlock.acquire', report.durationMs, attributes, failed);
    }
    if (!instruments) return;
    const attributes = { 'redlock.outcome': report.outcome, 'redlock.mode': report.mode };
    instruments.acquireDuration.record(report.durationMs, attributes);
    if (report.outcome === 'busy') instruments.busy.add(1, { 'redlock.mode': report.mode });
    if (report.outcome === 'unavailable') instruments.unavailable.add(1, { 'redlock.mode': report.mode });
    const lock = report.lock;
    if (lock && !lock.signal.aborted) {
      // A lost lock's signal aborts (a release never aborts it): the held count drops either way.
      const onAbort = () => stopHolding(lock);
      lock.signal.addEventListener('abort', onAbort, { once: true });
      held.set(lock, () => lock.signal.removeEventListener('abort', onAbort));
      instruments.held.add(1, { 'redlock.mode': lock.mode });
    }
  };

  const onExtend = (report: ExtendReport): void => {
    if (!tracer) return;
    const attributes: Attributes = {
      ...lockAttributes(report.lock),
      'redlock.outcome': report.outcome,
      ...voteAttributes(report.votes),
      'redlock.validity_ms': Math.round(report.validityMs),
    };
    recordSpan(tracer, 'redlock.extend', report.durationMs, attributes, report.error);
  };

  const onRelease = (report: ReleaseReport): void => {
    stopHolding(report.lock);
    if (!tracer) return;
    const attributes: Attributes = { ...lockAttributes(report.lock), 'redlock.outcome': report.outcome, ...voteAttributes(report.votes) };
    recordSpan(tracer, 'redlock.release', report.durationMs, attributes);
  };

  const onLost = ({ resources }: { resources: readonly string[] }): void => {
    instruments?.lost.add(1, { 'redlock.resources.count': resources.length });
  };

  redlock.on('acquireSettled', onAcquire);
  redlock.on('extendSettled', onExtend);
  redlock.on('releaseSettled', onRelease);
  if (instruments) redlock.on('lockLost', onLost);
  return () => {
    redlock.off('acquireSettled', onAcquire);
    redlock.off('extendSettled', onExtend);
    redlock.off('releaseSettled', onRelease);
    redlock.off('lockLost', onLost);
    // Locks still held leave the gauge too: what it shows must not outlive the instrumentation.
    for (const lock of [...held.keys()]) stopHolding(lock);
  };
}
