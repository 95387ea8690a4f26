import { RedlockConfigError, show } from './errors.js';
import { RESERVED_RESOURCE_PREFIX } from './nodes/reserved-keys.js';
import type { LockMode } from './primitives/primitive.js';
import type { Clock } from './time/clock.js';
import { monotonicClock } from './time/clock.js';

/** Options of `new Redlock(nodes, options)`. */
export interface RedlockOptions {
  /** Prefix of every key the library touches (default `'lock:'`); must not be empty. */
  keyPrefix?: string;
  /** Default lease in ms (default 10 000). */
  ttl?: number;
  /** Default time acquire() may wait for a busy resource, ms (default 5 000; 0 = one attempt). */
  wait?: number;
  /** Base pause between attempts while waiting, ms (default 50). */
  retryDelay?: number;
  /** Random extra pause (0..retryJitter) added to each retryDelay, ms (default 50). */
  retryJitter?: number;
  /** Clock drift allowance per ms of lease (default 0.01): drift = ttl * driftFactor + 2 ms. */
  driftFactor?: number;
  /** Per-node reply timeout, ms. Default: 5 % of the ttl, clamped to 50..500 ms (and below ttl / 2). */
  nodeTimeout?: number;
  /**
   * Rule 15, enforced by the client: a node that restarted or lost its data does not count
   * towards an acquire quorum until the largest lease in use has passed since that was seen.
   * `true` (default) = the largest lease recorded on the nodes or used by this instance; a
   * number = at least that many ms; `false` = off (every vote counts).
   */
  restartGuard?: boolean | number;
  /** Monotonic time source; meant for tests that drive time by hand. */
  clock?: Clock;
  /**
   * A waiting acquire is woken by a release (pub/sub: a release publishes on every node it let
   * go of; one subscriber connection per node, shared by all waiters), with its timer as the
   * fallback. Default true; false = polling only (no PUBLISH, no subscriber connections).
   */
  wakeUps?: boolean;
}

/** Per-call options of acquire / tryAcquire / using. */
export interface AcquireOptions {
  ttl?: number;
  wait?: number;
  retryDelay?: number;
  retryJitter?: number;
  /** Cancels waiting for the lock (never the clean-up of a failed attempt). */
  signal?: AbortSignal;
  /** Keep the lock alive until release: default true inside `using`, false for a bare acquire(). */
  autoExtend?: boolean;
  /** 'write' (default) = exclusive; 'read' = shared with other readers, excluded by a writer. */
  mode?: LockMode;
  /** A semaphore: at most `limit` holders of the resource at once. Not with mode 'read' or fenced. */
  limit?: number;
  /** The lock carries `fence`, larger than every earlier holder's. Exclusive locks only. */
  fenced?: boolean;
  /** Fair: waiters are granted in arrival order, across processes (plain exclusive locks only). */
  fair?: boolean;
}

export interface EngineSettings {
  readonly keyPrefix: string;
  readonly ttl: number;
  readonly wait: number;
  readonly retryDelay: number;
  readonly retryJitter: number;
  readonly driftFactor: number;
  /** undefined = derive from each call's ttl. */
  readonly nodeTimeout: number | undefined;
  readonly wakeUps: boolean;
  /** 'largest-ttl', a least window in ms, or 0 for off. */
  readonly restartGuard: 'largest-ttl' | number;
  readonly clock: Clock;
}

export interface CallSettings {
  readonly ttl: number;
  readonly wait: number;
  readonly retryDelay: number;
  readonly retryJitter: number;
  readonly nodeTimeout: number;
  readonly signal: AbortSignal | undefined;
  /** undefined = the method's own default (on inside using(), off for a bare acquire()). */
  readonly autoExtend: boolean | undefined;
  readonly mode: LockMode;
  readonly limit: number | undefined;
  readonly fenced: boolean;
  readonly fair: boolean;
}

export const DEFAULTS = {
  keyPrefix: 'lock:',
  ttl: 10_000,
  wait: 5_000,
  retryDelay: 50,
  retryJitter: 50,
  driftFactor: 0.01,
} as const;

/** Largest delay a Node timer accepts; longer leases would fire their timers at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const ENGINE_KEYS = ['keyPrefix', 'ttl', 'wait', 'retryDelay', 'retryJitter', 'driftFactor', 'nodeTimeout', 'restartGuard', 'clock', 'wakeUps'];
const CALL_KEYS = ['ttl', 'wait', 'retryDelay', 'retryJitter', 'signal', 'autoExtend', 'mode', 'limit', 'fenced', 'fair'];

/** More permits than this is not a semaphore any more (and each one costs a member on every node). */
export const MAX_LIMIT = 1_000_000;

/** Rule 3: a per-node timeout far below the lease, so one hung node cannot stall a decision. */
export function defaultNodeTimeout(ttl: number): number {
  return Math.max(1, Math.min(Math.max(Math.round(ttl * 0.05), 50), 500, Math.floor(ttl / 2)));
}

export function resolveEngineSettings(options: unknown, field = 'options'): EngineSettings {
  const o = plainObject(options ?? {}, field, ENGINE_KEYS);
  const ttl = ttlValue(o.ttl, `${field}.ttl`) ?? DEFAULTS.ttl;
  const driftFactor = numberIn(o.driftFactor, `${field}.driftFactor`, 0, 0.5, 'a number from 0 to 0.5') ?? DEFAULTS.driftFactor;
  const nodeTimeout = positiveInt(o.nodeTimeout, `${field}.nodeTimeout`);
  if (nodeTimeout !== undefined && nodeTimeout >= ttl) {
    throw new RedlockConfigError(`${field}.nodeTimeout`, `must be below ttl (${ttl} ms), got ${nodeTimeout}`);
  }
  if (o.keyPrefix !== undefined && (typeof o.keyPrefix !== 'string' || o.keyPrefix.length === 0)) {
    throw new RedlockConfigError(`${field}.keyPrefix`, `must be a non-empty string (keys are always prefixed), got ${show(o.keyPrefix)}`);
  }
  const restartGuard = typeof o.restartGuard === 'boolean' ? (o.restartGuard ? 'largest-ttl' : 0) : ttlValue(o.restartGuard, `${field}.restartGuard`);
  if (o.wakeUps !== undefined && typeof o.wakeUps !== 'boolean') {
    throw new RedlockConfigError(`${field}.wakeUps`, `must be a boolean, got ${show(o.wakeUps)}`);
  }
  if (o.clock !== undefined && !isClock(o.clock)) {
    throw new RedlockConfigError(`${field}.clock`, 'must have now() and setTimer(fn, ms)');
  }
  return {
    keyPrefix: (o.keyPrefix as string | undefined) ?? DEFAULTS.keyPrefix,
    ttl,
    wait: nonNegativeInt(o.wait, `${field}.wait`) ?? DEFAULTS.wait,
    retryDelay: nonNegativeInt(o.retryDelay, `${field}.retryDelay`) ?? DEFAULTS.retryDelay,
    retryJitter: nonNegativeInt(o.retryJitter, `${field}.retryJitter`) ?? DEFAULTS.retryJitter,
    driftFactor,
    nodeTimeout,
    restartGuard: restartGuard ?? 'largest-ttl',
    clock: (o.clock as Clock | undefined) ?? monotonicClock,
    wakeUps: (o.wakeUps as boolean | undefined) ?? true,
  };
}

export function resolveCallSettings(engine: EngineSettings, options: unknown, field = 'options'): CallSettings {
  const o = plainObject(options ?? {}, field, CALL_KEYS);
  const ttl = ttlValue(o.ttl, `${field}.ttl`) ?? engine.ttl;
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new RedlockConfigError(`${field}.signal`, `must be an AbortSignal, got ${show(o.signal)}`);
  }
  if (o.autoExtend !== undefined && typeof o.autoExtend !== 'boolean') {
    throw new RedlockConfigError(`${field}.autoExtend`, `must be a boolean, got ${show(o.autoExtend)}`);
  }
  const { mode, limit, fenced, fair } = lockKindOf(o, field);
  const nodeTimeout = engine.nodeTimeout ?? defaultNodeTimeout(ttl);
  if (nodeTimeout >= ttl) {
    throw new RedlockConfigError(`${field}.ttl`, `must be above the node timeout (${nodeTimeout} ms), got ${ttl}`);
  }
  return {
    ttl,
    wait: nonNegativeInt(o.wait, `${field}.wait`) ?? engine.wait,
    retryDelay: nonNegativeInt(o.retryDelay, `${field}.retryDelay`) ?? engine.retryDelay,
    retryJitter: nonNegativeInt(o.retryJitter, `${field}.retryJitter`) ?? engine.retryJitter,
    nodeTimeout,
    signal: o.signal as AbortSignal | undefined,
    autoExtend: o.autoExtend as boolean | undefined,
    mode,
    limit,
    fenced,
    fair,
  };
}

/** mode / limit / fenced, and the combinations that have no meaning. */
function lockKindOf(o: Record<string, unknown>, field: string): { mode: LockMode; limit: number | undefined; fenced: boolean; fair: boolean } {
  if (o.fair !== undefined && typeof o.fair !== 'boolean') {
    throw new RedlockConfigError(`${field}.fair`, `must be a boolean, got ${show(o.fair)}`);
  }
  if (o.fair === true && (o.mode === 'read' || o.limit !== undefined || o.fenced === true)) {
    throw new RedlockConfigError(`${field}.fair`, "is for plain exclusive locks only (not with mode 'read', a limit or fenced)");
  }
  if (o.mode !== undefined && o.mode !== 'read' && o.mode !== 'write') {
    throw new RedlockConfigError(`${field}.mode`, `must be 'read' or 'write', got ${show(o.mode)}`);
  }
  if (o.limit !== undefined && (typeof o.limit !== 'number' || !Number.isInteger(o.limit) || o.limit < 1 || o.limit > MAX_LIMIT)) {
    throw new RedlockConfigError(`${field}.limit`, `must be a whole number of holders from 1 to ${MAX_LIMIT}, got ${show(o.limit)}`);
  }
  if (o.fenced !== undefined && typeof o.fenced !== 'boolean') {
    throw new RedlockConfigError(`${field}.fenced`, `must be a boolean, got ${show(o.fenced)}`);
  }
  const mode = (o.mode as LockMode | undefined) ?? 'write';
  const limit = o.limit as number | undefined;
  const fenced = o.fenced === true;
  if (limit !== undefined && mode === 'read') {
    throw new RedlockConfigError(`${field}.limit`, "cannot be combined with mode 'read' (a semaphore's holders are not readers)");
  }
  if (fenced && (mode === 'read' || limit !== undefined)) {
    throw new RedlockConfigError(`${field}.fenced`, 'is for exclusive locks only (not with mode \'read\' or a limit)');
  }
  return { mode, limit, fenced, fair: o.fair === true };
}

/** A string or a non-empty array of distinct non-empty strings; returned as a frozen array. */
export function resolveResources(resources: unknown, field = 'resources'): readonly string[] {
  // The common case, one name, without the list's checks (the hot path of every acquire).
  if (typeof resources === 'string' && resources.length > 0 && !resources.startsWith(RESERVED_RESOURCE_PREFIX)) return Object.freeze([resources]);
  const list = typeof resources === 'string' ? [resources] : resources;
  if (!Array.isArray(list) || list.length === 0) {
    throw new RedlockConfigError(field, `must be a non-empty string or a non-empty array of strings, got ${show(resources)}`);
  }
  list.forEach((r, i) => {
    const name = Array.isArray(resources) ? `${field}[${i}]` : field;
    if (typeof r !== 'string' || r.length === 0) throw new RedlockConfigError(name, `must be a non-empty string, got ${show(r)}`);
    if (r.startsWith(RESERVED_RESOURCE_PREFIX)) {
      throw new RedlockConfigError(name, `must not start with "${RESERVED_RESOURCE_PREFIX}" (reserved for the library's own keys)`);
    }
  });
  if (new Set(list).size !== list.length) {
    throw new RedlockConfigError(field, `must not name the same resource twice, got ${show(list)}`);
  }
  return Object.freeze([...(list as string[])]);
}

/** A lease length: a positive whole number of ms that a Node timer can represent. */
export function ttlValue(value: unknown, field: string): number | undefined {
  const ttl = positiveInt(value, field);
  if (ttl !== undefined && ttl > MAX_TIMER_MS) {
    throw new RedlockConfigError(field, `must be at most ${MAX_TIMER_MS} ms, got ${ttl}`);
  }
  return ttl;
}

function plainObject(value: unknown, field: string, allowed: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RedlockConfigError(field, `must be an object, got ${show(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new RedlockConfigError(`${field}.${key}`, `is not a known option (known: ${allowed.join(', ')})`);
    }
  }
  return value as Record<string, unknown>;
}

function positiveInt(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new RedlockConfigError(field, `must be a positive whole number of ms, got ${show(value)}`);
  }
  return value;
}

function nonNegativeInt(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new RedlockConfigError(field, `must be a whole number of ms from 0 to ${MAX_TIMER_MS}, got ${show(value)}`);
  }
  return value;
}

function numberIn(value: unknown, field: string, min: number, max: number, expected: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new RedlockConfigError(field, `must be ${expected}, got ${show(value)}`);
  }
  return value;
}

function isClock(value: unknown): value is Clock {
  const c = value as Clock;
  return typeof c === 'object' && c !== null && typeof c.now === 'function' && typeof c.setTimer === 'function';
}
