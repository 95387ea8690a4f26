import { RedlockConfigError } from '../core/index.js';
import type { LockMode } from '../core/index.js';
import { show } from '../core/errors.js';
import { resolveCallSettings, resolveEngineSettings } from '../core/options.js';
import { LockKey } from '../keys/lock-key.js';
import type { LockKeySpec } from '../keys/lock-key.js';
import { LOCKED_METADATA } from '../redlock.constants.js';

/** Options of `@Locked(key, options)`. */
export interface LockedOptions {
  /** Lease in ms (default: the module's ttl). */
  ttl?: number;
  /** How long to wait for a busy lock, ms (default: the module's wait; 0 = one attempt). */
  wait?: number;
  /** When the lock stays busy: 'throw' LockBusyError (HTTP: 409), or 'skip' the call and return undefined. */
  onBusy?: 'throw' | 'skip';
  /** Keep extending the lease while the method (or its Observable) runs. Default true. */
  autoExtend?: boolean;
  /** 'read' shares the resource with other readers; 'write' (the default) is exclusive. */
  mode?: LockMode;
  /** A semaphore: at most `limit` calls hold the resource at once. Not with mode 'read' or fenced. */
  limit?: number;
  /** Hand out a fencing token: `RedlockService.current()?.fence`, larger for every later holder. */
  fenced?: boolean;
  /** Grant waiters in arrival order, across processes (plain exclusive locks only). */
  fair?: boolean;
}

/** Everything one `@Locked` asked for, checked when the decorator runs. */
export interface LockedDefinition {
  /** `Class#method`, for messages. */
  readonly where: string;
  readonly key: LockKey;
  readonly ttl: number | undefined;
  readonly wait: number | undefined;
  readonly onBusy: 'throw' | 'skip';
  readonly autoExtend: boolean;
  readonly mode: LockMode;
  readonly limit: number | undefined;
  readonly fenced: boolean;
  readonly fair: boolean;
}

const OPTION_KEYS = ['ttl', 'wait', 'onBusy', 'autoExtend', 'mode', 'limit', 'fenced', 'fair'];

export function createLockedDefinition(
  where: string,
  method: (...args: never[]) => unknown,
  key: LockKeySpec,
  options: LockedOptions | undefined,
): LockedDefinition {
  const field = `@Locked options of ${where}`;
  const o = (options ?? {}) as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new RedlockConfigError(field, `must be an object, got ${show(options)}`);
  const unknown = Object.keys(o).find((k) => !OPTION_KEYS.includes(k));
  if (unknown) throw new RedlockConfigError(`${field}.${unknown}`, `is not a known option (known: ${OPTION_KEYS.join(', ')})`);
  if (o.onBusy !== undefined && o.onBusy !== 'throw' && o.onBusy !== 'skip') {
    throw new RedlockConfigError(`${field}.onBusy`, `must be 'throw' or 'skip', got ${show(o.onBusy)}`);
  }
  // The core's own validation, so @Locked accepts exactly what acquire() accepts.
  const settings = resolveCallSettings(
    resolveEngineSettings({}),
    { ttl: o.ttl, wait: o.wait, autoExtend: o.autoExtend, mode: o.mode, limit: o.limit, fenced: o.fenced, fair: o.fair },
    field,
  );
  return {
    where,
    key: new LockKey(key, where, method),
    ttl: o.ttl as number | undefined,
    wait: o.wait as number | undefined,
    onBusy: (o.onBusy as 'throw' | 'skip' | undefined) ?? 'throw',
    autoExtend: (o.autoExtend as boolean | undefined) ?? true,
    mode: settings.mode,
    limit: settings.limit,
    fenced: settings.fenced,
    fair: settings.fair,
  };
}

export function lockedDefinitionOf(fn: unknown): LockedDefinition | undefined {
  return typeof fn === 'function' ? (Reflect.getMetadata(LOCKED_METADATA, fn) as LockedDefinition | undefined) : undefined;
}
