import { LockAbortedError, LockBusyError, QuorumUnavailableError } from '../errors.js';
import type { LockMode } from '../primitives/primitive.js';
import type { Clock } from '../time/clock.js';
import type { Lock } from './held-lease.js';
import type { RoundOutcome } from './round.js';

/**
 * What the engine tells telemetry (the acquireSettled / extendSettled / releaseSettled events).
 * Built only while someone listens: with no listener the engine makes none of these objects.
 */

/** How one round's nodes voted: yes, no (held by someone else / not ours), failed or silent. */
export interface RoundVotes {
  readonly yes: number;
  readonly no: number;
  readonly errors: number;
}

export type AcquireOutcome = 'granted' | 'busy' | 'unavailable' | 'aborted' | 'error';

/** One acquire / tryAcquire / using call, once it has settled. */
export interface AcquireReport {
  readonly resources: readonly string[];
  readonly mode: LockMode;
  readonly limit?: number;
  readonly fenced: boolean;
  /** true for tryAcquire (one attempt, null when busy). */
  readonly once: boolean;
  readonly outcome: AcquireOutcome;
  /** Rounds run (0 when the call failed before its first one). */
  readonly attempts: number;
  /** The last round's votes. */
  readonly votes: RoundVotes;
  /** From the call to its answer, ms, waiting included. */
  readonly durationMs: number;
  /** The granted lock (outcome 'granted'). */
  readonly lock?: Lock;
  /** ms of validity the granted lock had when it was handed out. */
  readonly validityMs?: number;
  /** Why it failed (undefined for a granted lock, and for tryAcquire's null). */
  readonly error?: Error;
}

/** One extension (manual or automatic), once it has settled. */
export interface ExtendReport {
  readonly lock: Lock;
  readonly outcome: 'granted' | 'lost';
  /** The extension round's votes (all 0 when it was refused before asking the nodes). */
  readonly votes: RoundVotes;
  readonly durationMs: number;
  /** ms of validity left after it. */
  readonly validityMs: number;
  readonly error?: Error;
}

/** One release, once it has settled. */
export interface ReleaseReport {
  readonly lock: Lock;
  /** released = a quorum let go of our keys; incomplete = the lock may linger until its ttl ends. */
  readonly outcome: 'released' | 'incomplete';
  readonly votes: RoundVotes;
  readonly durationMs: number;
}

export const NO_VOTES: RoundVotes = { yes: 0, no: 0, errors: 0 };

export function votesOf(outcome: RoundOutcome<unknown>): RoundVotes {
  return { yes: outcome.yes, no: outcome.no, errors: outcome.errors.length };
}

/** Counts one acquire call's rounds and keeps the last one's votes, for its AcquireReport. */
export class AcquireWatch {
  private readonly startedAt: number;
  private attempts = 0;
  private votes = NO_VOTES;

  constructor(
    private readonly clock: Clock,
    private readonly kind: Pick<AcquireReport, 'resources' | 'mode' | 'limit' | 'fenced' | 'once'>,
  ) {
    this.startedAt = clock.now();
  }

  /** Called with every attempt's round. */
  readonly round = (outcome: RoundOutcome<unknown>): void => {
    this.attempts += 1;
    this.votes = votesOf(outcome);
  };

  granted(lock: Lock | null): AcquireReport {
    if (!lock) return this.report('busy');
    return { ...this.report('granted'), lock, validityMs: lock.remaining };
  }

  failed(error: unknown): AcquireReport {
    const outcome: AcquireOutcome =
      error instanceof LockBusyError ? 'busy'
      : error instanceof QuorumUnavailableError ? 'unavailable'
      : error instanceof LockAbortedError ? 'aborted'
      : 'error';
    return { ...this.report(outcome), error: error instanceof Error ? error : new Error(String(error)) };
  }

  private report(outcome: AcquireOutcome): AcquireReport {
    const { resources, mode, limit, fenced, once } = this.kind;
    return {
      resources,
      mode,
      ...(limit === undefined ? {} : { limit }),
      fenced,
      once,
      outcome,
      attempts: this.attempts,
      votes: this.votes,
      durationMs: this.clock.now() - this.startedAt,
    };
  }
}

/** The three telemetry events and what each carries. */
export interface ReportEvents {
  acquireSettled: AcquireReport;
  extendSettled: ExtendReport;
  releaseSettled: ReleaseReport;
}

/** What reporting needs of a Redlock (the engine's, or the in-process one of nestjs-redlock/testing). */
export interface ReportSink {
  listenerCount(event: keyof ReportEvents): number;
  emit(event: keyof ReportEvents, report: ReportEvents[keyof ReportEvents]): boolean;
}

/**
 * Telemetry must never change what a lock call answers: a listener that throws becomes a
 * process warning, not a rejected acquire (with the lock held) or a release that rejects.
 */
export function reportSafely<E extends keyof ReportEvents>(sink: ReportSink, event: E, report: ReportEvents[E]): void {
  try {
    sink.emit(event, report);
  } catch (error) {
    process.emitWarning(`a Redlock '${event}' listener threw: ${error instanceof Error ? error.message : String(error)}`, 'RedlockListenerWarning');
  }
}

/**
 * One acquire call, reported as acquireSettled once it settles; with nobody listening, just the
 * call (no report is built). `take` is told every attempt's round.
 */
export async function acquireReported<L extends Lock>(
  sink: ReportSink,
  clock: Clock,
  kind: Pick<AcquireReport, 'resources' | 'mode' | 'limit' | 'fenced' | 'once'>,
  take: (onRound?: (outcome: RoundOutcome<unknown>) => void) => Promise<L | null>,
): Promise<L | null> {
  if (sink.listenerCount('acquireSettled') === 0) return take();
  const watch = new AcquireWatch(clock, kind);
  let lock: L | null;
  try {
    lock = await take(watch.round);
  } catch (error) {
    reportSafely(sink, 'acquireSettled', watch.failed(error));
    throw error;
  }
  reportSafely(sink, 'acquireSettled', watch.granted(lock));
  return lock;
}
