import { HttpException, HttpStatus } from '@nestjs/common';
import type { HttpServer } from '@nestjs/common';
import { LockBusyError, QuorumUnavailableError } from '../core/index.js';
import { LOCK_BUSY_MESSAGE, QUORUM_UNAVAILABLE_MESSAGE } from './public-lock-error.js';
import { retryAfterSeconds } from './retry-after.js';

export interface LockConflictOptions {
  /** Seconds a client should wait before retrying (the `Retry-After` header); default 1. */
  retryAfter?: number;
  message?: string;
  cause?: unknown;
}

/**
 * 409 Conflict: the resource is locked by another owner and waiting did not free it in time.
 * The body names no resource and no node, so nothing internal leaks to HTTP clients; the
 * original LockBusyError is the `cause`.
 */
export class LockConflictException extends HttpException {
  /** Seconds, sent as the `Retry-After` header. */
  readonly retryAfter: number;

  constructor(options: LockConflictOptions = {}) {
    const message = options.message ?? LOCK_BUSY_MESSAGE;
    super({ statusCode: HttpStatus.CONFLICT, error: 'Conflict', message, code: 'LOCK_BUSY' }, HttpStatus.CONFLICT, {
      cause: options.cause,
    });
    this.retryAfter = Math.max(1, Math.ceil(options.retryAfter ?? 1));
  }
}

/**
 * 503 Service Unavailable: too few Redis nodes answered to decide (QuorumUnavailableError as
 * `cause`). `retryAfter` is set when the engine knows when a quorum counts again (nodes that
 * sit out after a restart, rule 15), and sent as the `Retry-After` header.
 */
export class LockUnavailableException extends HttpException {
  /** Seconds, sent as `Retry-After`; undefined when nobody knows when the nodes return. */
  readonly retryAfter: number | undefined;

  constructor(options: { message?: string; cause?: unknown; retryAfter?: number } = {}) {
    const message = options.message ?? QUORUM_UNAVAILABLE_MESSAGE;
    super({ statusCode: HttpStatus.SERVICE_UNAVAILABLE, error: 'Service Unavailable', message, code: 'QUORUM_UNAVAILABLE' },
      HttpStatus.SERVICE_UNAVAILABLE, { cause: options.cause });
    this.retryAfter = options.retryAfter === undefined ? undefined : Math.max(1, Math.ceil(options.retryAfter));
  }
}

/**
 * The HTTP face of a lock error: LockBusyError → 409, QuorumUnavailableError → 503; anything
 * else (including the handler's own HttpExceptions) is returned untouched.
 */
export function toHttpException(error: unknown, fallbackTtl: number): unknown {
  if (error instanceof LockBusyError) {
    return new LockConflictException({ retryAfter: retryAfterSeconds(error, fallbackTtl), cause: error });
  }
  if (error instanceof QuorumUnavailableError) {
    const retryAfter = error.retryAfterMs === undefined ? undefined : error.retryAfterMs / 1000;
    return new LockUnavailableException({ cause: error, retryAfter });
  }
  return error;
}

/**
 * toHttpException, plus the `Retry-After` header of a 409 set on the response (an Express
 * response or a Fastify reply; through the HTTP adapter when there is one, as Fastify must hear
 * of headers through its reply).
 */
export function httpErrorFor(error: unknown, response: unknown, fallbackTtl: number, adapter?: HttpServer): unknown {
  const mapped = toHttpException(error, fallbackTtl);
  if (mapped instanceof LockConflictException || (mapped instanceof LockUnavailableException && mapped.retryAfter !== undefined)) {
    setRetryAfter(response, mapped.retryAfter!, adapter);
  }
  return mapped;
}

function setRetryAfter(response: unknown, seconds: number, adapter?: HttpServer): void {
  const value = String(seconds);
  const res = response as { setHeader?: (n: string, v: string) => void; header?: (n: string, v: string) => void; headersSent?: boolean; sent?: boolean };
  if (!res || res.headersSent === true || res.sent === true) return;
  if (adapter) adapter.setHeader(res, 'Retry-After', value);
  else if (typeof res.header === 'function') res.header('Retry-After', value);
  else res.setHeader?.('Retry-After', value);
}
