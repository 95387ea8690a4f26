import { LockBusyError } from '../core/index.js';
import type { LockBusyError as Busy, QuorumUnavailableError } from '../core/index.js';

/** What a client outside the service is told about a lock error: a code and a generic message. */
export interface PublicLockError {
  readonly code: 'LOCK_BUSY' | 'QUORUM_UNAVAILABLE';
  readonly message: string;
}

export const LOCK_BUSY_MESSAGE = 'The resource is locked by another request; retry later';
export const QUORUM_UNAVAILABLE_MESSAGE = 'The lock service is unavailable; retry later';

/**
 * The engine's own messages name resources and node addresses, which are the service's
 * business: HTTP, WebSocket and GraphQL clients get these instead (RPC callers, being services
 * themselves, get the whole error).
 */
export function publicLockError(error: Busy | QuorumUnavailableError): PublicLockError {
  return error instanceof LockBusyError
    ? { code: 'LOCK_BUSY', message: LOCK_BUSY_MESSAGE }
    : { code: 'QUORUM_UNAVAILABLE', message: QUORUM_UNAVAILABLE_MESSAGE };
}
