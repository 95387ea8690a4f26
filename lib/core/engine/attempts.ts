import { LockAbortedError, LockBusyError, QuorumUnavailableError, RedlockConfigError } from '../errors.js';
import type { CallSettings } from '../options.js';
import type { Primitive, PrimitiveKeys } from '../primitives/primitive.js';
import type { TakeReply } from '../primitives/take-reply.js';
import type { Clock } from '../time/clock.js';
import { learnFromFencedRound } from './fencing.js';
import type { FenceBook } from './fencing.js';
import { LockHandle } from './held-lease.js';
import type { LockContext } from './held-lease.js';
import { leaseStep } from './lease.js';
import { newOwnerToken } from './owner-token.js';
import type { NodeSet } from './node-set.js';
import type { RoundOutcome } from './round.js';
import { describeNodeErrors, freeOnQuorumIn, quorumReturnsIn } from './verdict.js';
import type { Waiter, WaitingRoom } from './waiting-room.js';

/**
 * A waiter that hears releases still looks again this often (ms, plus jitter): an expiry, or a
 * release whose message was lost, announces nothing. Rare enough that 256 waiters on one key
 * cost less than a command per node per handoff.
 */
const FALLBACK_WITH_WAKE_UPS_MS = 1_000;

/** What attempts at a lock need from the Redlock that makes them. */
export interface AttemptContext {
  readonly nodeSet: NodeSet;
  readonly clock: Clock;
  readonly keyPrefix: string;
  readonly driftFactor: number;
  readonly fences: FenceBook;
  /** Where a busy acquire waits between attempts (woken by releases, or polling). */
  readonly waitingRoom: WaitingRoom;
  /** The handle's callbacks for this call (held set, events). */
  lockContext(call: CallSettings): LockContext;
  /** Telemetry: told each attempt's round; set only while someone listens (reports.ts). */
  readonly onRound?: (outcome: RoundOutcome<unknown>) => void;
}

export interface LockRequest {
  readonly primitive: Primitive;
  readonly fenced: boolean;
  /** Waiters in line (primitives/fair.ts): the take proposes the waiter's ticket. */
  readonly fair: boolean;
  readonly resources: readonly string[];
  readonly call: CallSettings;
  /** One attempt only (tryAcquire): null instead of LockBusyError. */
  readonly once: boolean;
}

/**
 * The attempts of one acquire call, for every primitive: a fresh token (rule 1), a lease step per
 * attempt, clean-up on all N after a lost attempt (rule 7), jittered waits bounded by `wait`
 * (rule 9), and the distinction between busy and unavailable.
 */
export async function attemptLock(context: AttemptContext, request: LockRequest): Promise<LockHandle | null> {
  const waiting: Waiting = { markLeft: undefined };
  let granted = false;
  try {
    const lock = await attemptsOf(context, request, waiting);
    granted = lock !== null;
    return lock;
  } finally {
    waiting.waiter?.leave();
    // A writer that gives up stops holding back readers (its clean-ups between attempts kept the mark).
    if (!granted && waiting.markLeft) await context.nodeSet.give(request.primitive, waiting.markLeft.keys, waiting.markLeft.token, request.resources.length, request.call.nodeTimeout, true);
  }
}

/** What the attempts leave behind for attemptLock to close: the waiter, and a writer-waiting mark kept between attempts. */
interface Waiting {
  waiter?: Waiter;
  markLeft: { readonly keys: PrimitiveKeys; readonly token: string } | undefined;
}

async function attemptsOf(context: AttemptContext, request: LockRequest, waiting: Waiting): Promise<LockHandle | null> {
  const { nodeSet, clock, driftFactor, keyPrefix, fences } = context;
  const { primitive, resources, call, once, fenced, fair } = request;
  // A fair waiter's place in line: the largest ticket the nodes gave it, and how long it lasts between attempts.
  let ticket = 0;
  const entryMs = fair ? fairPlaceMs(call) : 0;
  const keys = primitive.keysFor(keyPrefix, resources);
  const token = newOwnerToken();
  const startedAt = clock.now();
  const giveUpAt = startedAt + (once ? 0 : call.wait);
  let attempts = 0;
  /** Nodes whose last clean-up did not answer: they may still hold this call's write (rule 7). */
  let uncleaned: ReadonlySet<number> = new Set();
  let lastFailure: { kind: 'busy' | 'late'; outcome: RoundOutcome<TakeReply>; freeInMs: number | undefined } | undefined;

  for (;;) {
    if (call.signal?.aborted) throw new LockAbortedError(resources, call.signal.reason);
    attempts += 1;
    const fence = fenced ? fences.proposalFor(resources) : 0;
    const proposal = fair ? ticket : fence;
    const step = await leaseStep(clock, call.ttl, driftFactor, nodeSet.size, () =>
      nodeSet.take(primitive, keys, token, call.ttl, proposal, call.nodeTimeout, entryMs),
    );
    context.onRound?.(step.outcome);
    const fencing = fenced ? { book: fences, nodeSet, keyPrefix, resources, timeoutMs: call.nodeTimeout } : undefined;

    // Rule 6: a quorum AND time left; rule 8: errors elsewhere do not fail a won round.
    if (step.granted) {
      if (fencing) await learnFromFencedRound(fencing, step.outcome, fence);
      const lock = new LockHandle(context.lockContext(call), {
        resources,
        primitive,
        keys,
        value: token,
        ttl: call.ttl,
        validUntil: step.validUntil,
        fence: fenced ? fence : undefined,
      });
      if (call.signal?.aborted) {
        await lock.release();
        throw new LockAbortedError(resources, call.signal.reason);
      }
      return lock;
    }

    // Rule 7: clean up on all N before anything else; not tied to the caller's signal. A writer
    // keeps its writer-waiting mark while it goes on trying, or a stream of readers starves it.
    const mayRetry = !once && step.verdict !== 'unavailable' && giveUpAt > clock.now();
    if (mayRetry) uncleaned = await nodeSet.cleanUpAfterLostAttempt(primitive, keys, token, resources.length, call.nodeTimeout, step.outcome, uncleaned);
    else await nodeSet.give(primitive, keys, token, resources.length, call.nodeTimeout, true);
    waiting.markLeft = mayRetry ? { keys, token } : undefined;

    if (step.verdict === 'unavailable') {
      throw new QuorumUnavailableError(
        `cannot lock ${resources.join(', ')}: ${step.outcome.errors.length} of ${nodeSet.size} nodes failed (${describeNodeErrors(step.outcome.errors)})`,
        step.outcome.errors,
        quorumReturnsIn(step.outcome, nodeSet.size),
      );
    }
    const mismatch = step.outcome.values.find((reply) => reply?.detail.kind === 'mismatch');
    if (mismatch?.detail.kind === 'mismatch') throw kindMismatch(resources, primitive, mismatch.detail.theirs);
    let placeDiffers = false;
    if (fair) {
      const tickets = step.outcome.values.flatMap((reply) => (reply ? [reply.fence] : []));
      placeDiffers = tickets.some((t) => t !== tickets[0]);
      ticket = Math.max(ticket, ...tickets);
    }
    const freeInMs = freeOnQuorumIn(holderMsByNode(step.outcome), step.outcome.quorum);
    lastFailure = { kind: step.verdict === 'busy' ? 'busy' : 'late', outcome: step.outcome, freeInMs };
    const lesson = fencing ? await learnFromFencedRound(fencing, step.outcome, undefined) : 'wait';

    // Rule 9: jittered pauses, bounded by the total wait.
    let left = giveUpAt - clock.now();
    if (left <= 0 && lesson !== 'try-again-now') break;
    if (lesson === 'try-again-now' && attempts < 2 * nodeSet.size + 2) continue;
    // A fair waiter whose nodes gave it different places in line takes the same (last) place on
    // all of them at once: until then, who is first may differ by node and nobody be first on a quorum.
    if (placeDiffers && attempts === 1) continue;
    if (left <= 0) break;
    let waiter = waiting.waiter;
    if (!waiter) {
      const heardBefore = context.waitingRoom.hearsReleases(keys.wake);
      waiter = waiting.waiter = await context.waitingRoom.enter(keys.wake, { shared: primitive.mode === 'read', token, fair });
      // A release between our attempt and the subscription was announced to nobody: look again
      // now that we listen. For one exclusive hold or permit of one resource, one look by the
      // waiter that subscribed is enough to take what such a release freed (the others sleep);
      // a fair waiter (only the first in line may take it), a reader (a waiting writer may keep
      // it out while others can go) and a lock over several resources each look for themselves.
      const oneLookServesAll = !fair && primitive.mode === 'write' && resources.length === 1;
      if (!heardBefore && waiter.hearsReleases && (waiter.subscribedFirst || !oneLookServesAll)) continue;
      left = giveUpAt - clock.now();
      if (left <= 0) break;
    }
    // Only holders release: a round lost to failed nodes, or to fences still being settled, polls.
    // A fair waiter behind others sleeps too: the release that makes it first in line names it.
    const blockedByHolders = step.outcome.errors.length === 0 && step.outcome.values.every((reply) => !reply || reply.detail.kind !== 'fence-in-doubt');
    const end = await waiter.sleep(pauseBeforeNextAttempt(call, left, freeInMs, waiter.hearsReleases && blockedByHolders), call.signal);
    if (end === 'aborted') throw new LockAbortedError(resources, call.signal?.reason);
  }

  if (lastFailure.kind === 'late') {
    throw new QuorumUnavailableError(
      `a quorum granted the lock on ${resources.join(', ')} too late to leave any validity (nodes answered too slowly)`,
      lastFailure.outcome.errors,
    );
  }
  if (once) return null;
  throw new LockBusyError(resources, attempts, clock.now() - startedAt, lastFailure.freeInMs);
}

/** How long a fair waiter's place lasts on a node: several of its longest pauses, so only a waiter that left or died loses it. */
function fairPlaceMs(call: CallSettings): number {
  return 3 * Math.max(FALLBACK_WITH_WAKE_UPS_MS + call.retryJitter, call.retryDelay + call.retryJitter) + call.nodeTimeout;
}

/**
 * Rule 9, and never past the moment the holders' leases end (the lock may be free then, and an
 * expiry announces nothing). A waiter that hears releases needs its timer only as a fallback.
 */
function pauseBeforeNextAttempt(call: CallSettings, left: number, freeInMs: number | undefined, hearsReleases: boolean): number {
  const jitter = Math.random() * call.retryJitter;
  const fallback = hearsReleases ? Math.max(FALLBACK_WITH_WAKE_UPS_MS, call.retryDelay) + jitter : call.retryDelay + jitter;
  // 1 ms past the end, spread a little so that waiters do not all come back at once.
  const untilFree = freeInMs === undefined ? Infinity : freeInMs + 1 + Math.random() * Math.min(call.retryJitter, 5);
  return Math.max(0, Math.min(left, fallback, untilFree));
}

/**
 * How long the hold that blocked us still runs on each node: 0 where we got in (the clean-up
 * frees it) and on nodes not heard before the round was decided (a lost round has enough busy
 * answers to bound the wait by), unknown on a node that failed or did not say.
 */
function holderMsByNode(outcome: RoundOutcome<TakeReply>): (number | undefined)[] {
  const failed = new Set(outcome.errors.map((e) => e.node));
  return outcome.values.map((reply, node) => {
    if (failed.has(node)) return undefined;
    if (!reply || reply.standing.taken) return 0;
    return reply.detail.kind === 'busy' ? reply.detail.holderMs : undefined;
  });
}

/** The resource is held as another kind of lock: a programming error, not contention. */
function kindMismatch(resources: readonly string[], primitive: Primitive, theirs: string): RedlockConfigError {
  const kindOf = (k: string) => (k === 'read' ? 'read locks' : `a semaphore with limit ${k}`);
  const ours = primitive.limit === undefined ? 'a read lock' : `a semaphore with limit ${primitive.limit}`;
  return new RedlockConfigError('limit', `${resources.join(', ')} is held as ${kindOf(theirs)}, but this call asks for ${ours}`);
}
