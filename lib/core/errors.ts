/**
 * Every error the library raises extends RedlockError and carries a stable `code`,
 * so callers (and the NestJS layer's HTTP mapping) can branch without `instanceof`
 * across duplicated package copies.
 */
export type RedlockErrorCode = 'LOCK_BUSY' | 'QUORUM_UNAVAILABLE' | 'LOCK_LOST' | 'INVALID_CONFIG' | 'ABORTED';

export class RedlockError extends Error {
  readonly code: RedlockErrorCode;

  constructor(code: RedlockErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The resource is held by another owner and the caller's `wait` ran out. */
export class LockBusyError extends RedlockError {
  readonly resources: readonly string[];
  readonly attempts: number;
  readonly waitedMs: number;
  /**
   * How long the holders' leases still ran on a quorum of nodes at the last attempt, ms: the
   * latest the lock frees itself unless extended (a live holder usually releases it sooner).
   * undefined when the nodes did not say.
   */
  readonly retryAfterMs: number | undefined;

  constructor(resources: readonly string[], attempts: number, waitedMs: number, retryAfterMs?: number) {
    super(
      'LOCK_BUSY',
      `lock on ${describeResources(resources)} is held by another owner ` +
        `(${attempts} attempt${attempts === 1 ? '' : 's'} over ${Math.round(waitedMs)} ms)`,
    );
    this.resources = resources;
    this.attempts = attempts;
    this.waitedMs = waitedMs;
    this.retryAfterMs = retryAfterMs;
  }
}

/** One node's failure, described without connection credentials. */
export interface NodeError {
  /** Position of the node in the configured list. */
  readonly node: number;
  /** `host:port` (or a label) of the node; never contains a password or user name. */
  readonly address: string;
  readonly message: string;
  /** The node sits out of the quorum (rule 15) and its votes count again in this many ms. */
  readonly countsAgainInMs?: number;
}

/** Too few nodes answered to decide either way. */
export class QuorumUnavailableError extends RedlockError {
  readonly nodeErrors: readonly NodeError[];
  /**
   * When a quorum is known to count again, ms from when the error was raised: set when enough
   * of the failed nodes only sit out for a known time (rule 15); undefined when nobody knows.
   */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, nodeErrors: readonly NodeError[], retryAfterMs?: number) {
    super('QUORUM_UNAVAILABLE', message);
    this.nodeErrors = nodeErrors;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The lock can no longer be relied upon: an extension failed, or it had already expired. */
export class LockLostError extends RedlockError {
  readonly resources: readonly string[];

  constructor(resources: readonly string[], reason: string) {
    super('LOCK_LOST', `lock on ${describeResources(resources)} lost: ${reason}`);
    this.resources = resources;
  }
}

/** Bad options or arguments; `field` names the offending one (e.g. `ttl`, `nodes[2]`). */
export class RedlockConfigError extends RedlockError {
  readonly field: string;

  constructor(field: string, problem: string) {
    super('INVALID_CONFIG', `invalid ${field}: ${problem}`);
    this.field = field;
  }
}

/** The caller's AbortSignal ended the wait. */
export class LockAbortedError extends RedlockError {
  readonly resources: readonly string[];

  constructor(resources: readonly string[], reason?: unknown) {
    super('ABORTED', `waiting for lock on ${describeResources(resources)} was aborted`, { cause: reason });
    this.resources = resources;
  }
}

function describeResources(resources: readonly string[]): string {
  return resources.map((r) => `"${r}"`).join(', ');
}

/** A short, credential-free rendering of a bad value for error messages. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return `a ${typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value}`;
}
