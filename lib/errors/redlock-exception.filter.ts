import { Catch, Inject, Optional } from '@nestjs/common';
import type { ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { throwError } from 'rxjs';
import { DEFAULTS, LockBusyError, QuorumUnavailableError } from '../core/index.js';
import { transportOfHost } from '../keys/transports.js';
import { httpErrorFor } from './http-exceptions.js';
import { publicLockError } from './public-lock-error.js';
import { REDLOCK_MODULE_OPTIONS } from '../redlock.constants.js';
import type { RedlockModuleOptions } from '../redlock-module-options.js';

/**
 * Renders LockBusyError and QuorumUnavailableError for the transport they reached, so a busy
 * lock is never a 500 / "Internal server error". RedlockModule registers it globally
 * (APP_FILTER), for lock errors thrown where no `@Locked` is (a guard, or a locked service
 * called by a plain handler), and `@Locked` puts it on the method too, because Nest applies no
 * global filter to WebSocket gateways, nor to a hybrid app's microservices unless they inherit
 * the app's config. It catches only those two errors: every other exception keeps its filter.
 *
 * - HTTP: LockConflictException (409, Retry-After) or LockUnavailableException (503), through
 *   Nest's own filter, on Express and Fastify alike.
 * - RPC: the error as a plain object the transport can serialize: `{ status: 'error', name,
 *   code, message, ... }` with the error's own fields (an Error's message would not survive JSON).
 * - WebSocket: an `exception` message `{ status: 'error', code, message }`, as for a WsException,
 *   also on native `ws` sockets.
 * - GraphQL: an error with a generic message and `extensions.code` (LOCK_BUSY /
 *   QUORUM_UNAVAILABLE), the original as its `cause`.
 */
@Catch(LockBusyError, QuorumUnavailableError)
export class RedlockExceptionFilter extends BaseExceptionFilter {
  private readonly fallbackTtl: number;

  // Optional: as a method filter it is made in the handler's module, which may see no options.
  constructor(@Optional() @Inject(REDLOCK_MODULE_OPTIONS) options?: RedlockModuleOptions) {
    super();
    this.fallbackTtl = options?.ttl ?? DEFAULTS.ttl;
  }

  override catch(error: LockBusyError | QuorumUnavailableError, host: ArgumentsHost): unknown {
    const transport = transportOfHost(host);
    switch (transport.kind) {
      case 'http':
        return super.catch(httpErrorFor(error, transport.response, this.fallbackTtl, this.httpAdapterHost?.httpAdapter), host);
      case 'rpc':
        return throwError(() => ({ status: 'error', ...error, name: error.name, code: error.code, message: error.message }));
      case 'ws': {
        const client = transport.client as WsClient | undefined;
        const payload = { status: 'error', ...publicLockError(error) };
        // Socket.IO clients emit; native `ws` sockets (readyState) need a message of their own.
        if (typeof client?.readyState === 'number' && typeof client.send === 'function') {
          client.send(JSON.stringify({ event: 'exception', data: payload }));
        } else {
          client?.emit?.('exception', payload);
        }
        return undefined;
      }
      case 'graphql':
        return graphQLError(error);
      default:
        return error;
    }
  }
}

/** GraphQL copies an error's `extensions` into the response, which is where clients look for a code. */
function graphQLError(error: LockBusyError | QuorumUnavailableError): Error {
  const { code, message } = publicLockError(error);
  return Object.assign(new Error(message, { cause: error }), { extensions: { code } });
}

interface WsClient {
  readyState?: number;
  send?: (data: string) => void;
  emit?: (event: string, data: unknown) => void;
}
