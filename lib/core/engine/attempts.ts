import { randomBytes } from 'node:crypto';
import { LockAbortedError, LockBusyError, QuorumUnavailableError, RedlockConfigError } from '../errors.js';
import type { CallSettings } from '../options.js';
import type { Primitive } from '../primitives/primitive.js';
import type { TakeReply } from '../primitives/take-reply.js';
import { sleep } from '../time/clock.js';
import type { Clock } from '../time/clock.js';
import { learnFromFencedRound } from './fencing.js';
import type { FenceBook } from './fencing.js';
import { LockHandle } from './held-lease.js';
import type { LockContext } from './held-lease.js';
import { leaseStep } from './lease.js';
import type { NodeSet } from './node-set.js';
import type { RoundOutcome } from './round.js';
import { describeNodeErrors, quorumReturnsIn } from './verdict.js';

/** Bytes of the owner token (rule 1: at least 128 bits from a CSPRNG). */
const TOKEN_BYTES = 16;

/** What attempts at a lock need from the Redlock that makes them. */
export interface AttemptContext {
  readonly nodeSet: NodeSet;
  readonly clock: Clock;
  readonly keyPrefix: string;
  readonly driftFactor: number;
  readonly fences: FenceBook;
  /** The handle's callbacks for this call (held set, events). */
  lockContext(call: CallSettings): LockContext;
}

export interface LockRequest {
  readonly primitive: Primitive;
  readonly fenced: boolean;
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
  const { nodeSet, clock, driftFactor, keyPrefix, fences } = context;
  const { primitive, resources, call, once, fenced } = request;
  const keys = primitive.keysFor(keyPrefix, resources);
  const token = randomBytes(TOKEN_BYTES).toString('hex');
  const startedAt = clock.now();
  const giveUpAt = startedAt + (once ? 0 : call.wait);
  let attempts = 0;
  let lastFailure: { kind: 'busy' | 'late'; outcome: RoundOutcome<TakeReply> } | undefined;

  for (;;) {
    if (call.signal?.aborted) throw new LockAbortedError(resources, call.signal.reason);
    attempts += 1;
    const fence = fenced ? fences.proposalFor(resources) : 0;
    const step = await leaseStep(clock, call.ttl, driftFactor, nodeSet.size, () =>
      nodeSet.take(primitive, keys, token, call.ttl, fence, call.nodeTimeout),
    );
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

    // Rule 7: clean up on all N before anything else; not tied to the caller's signal.
    await nodeSet.give(primitive, keys, token, resources.length, call.nodeTimeout);

    if (step.verdict === 'unavailable') {
      throw new QuorumUnavailableError(
        `cannot lock ${resources.join(', ')}: ${step.outcome.errors.length} of ${nodeSet.size} nodes failed (${describeNodeErrors(step.outcome.errors)})`,
        step.outcome.errors,
        quorumReturnsIn(step.outcome, nodeSet.size),
      );
    }
    const mismatch = step.outcome.values.find((reply) => reply?.detail.kind === 'mismatch');
    if (mismatch?.detail.kind === 'mismatch') throw kindMismatch(resources, primitive, mismatch.detail.theirs);
    lastFailure = { kind: step.verdict === 'busy' ? 'busy' : 'late', outcome: step.outcome };
    const lesson = fencing ? await learnFromFencedRound(fencing, step.outcome, undefined) : 'wait';

    // Rule 9: jittered pauses, bounded by the total wait.
    const left = giveUpAt - clock.now();
    if (left <= 0 && lesson !== 'try-again-now') break;
    if (lesson === 'try-again-now' && attempts < 2 * nodeSet.size + 2) continue;
    if (left <= 0) break;
    const pause = Math.min(left, call.retryDelay + Math.random() * call.retryJitter);
    if (!(await sleep(clock, pause, call.signal))) throw new LockAbortedError(resources, call.signal?.reason);
  }

  if (lastFailure.kind === 'late') {
    throw new QuorumUnavailableError(
      `a quorum granted the lock on ${resources.join(', ')} too late to leave any validity (nodes answered too slowly)`,
      lastFailure.outcome.errors,
    );
  }
  if (once) return null;
  throw new LockBusyError(resources, attempts, clock.now() - startedAt);
}

/** The resource is held as another kind of lock: a programming error, not contention. */
function kindMismatch(resources: readonly string[], primitive: Primitive, theirs: string): RedlockConfigError {
  const kindOf = (k: string) => (k === 'read' ? 'read locks' : `a semaphore with limit ${k}`);
  const ours = primitive.limit === undefined ? 'a read lock' : `a semaphore with limit ${primitive.limit}`;
  return new RedlockConfigError('limit', `${resources.join(', ')} is held as ${kindOf(theirs)}, but this call asks for ${ours}`);
}
