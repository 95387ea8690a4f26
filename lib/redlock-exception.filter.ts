import { Catch, Inject } from '@nestjs/common';
import type { ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { throwError } from 'rxjs';
import { DEFAULTS, LockBusyError, QuorumUnavailableError } from './core/index.js';
import { httpErrorFor } from './http-exceptions.js';
import { REDLOCK_MODULE_OPTIONS } from './redlock.constants.js';
import type { RedlockModuleOptions } from './redlock-module-options.js';

/**
 * Registered globally by RedlockModule (APP_FILTER), so a busy lock never becomes a 500: a
 * LockBusyError or QuorumUnavailableError that reaches the filters (from a guard or middleware;
 * LockErrorsInterceptor maps those of handlers earlier) is answered as LockConflictException (409,
 * Retry-After) or LockUnavailableException (503), through Nest's own filter, on Express and
 * Fastify alike. It catches only those two errors, so every other exception (a handler's own
 * HttpException included) keeps its filter and its status.
 *
 * Outside HTTP the error itself goes back: to the RPC caller as it is, to a WebSocket client
 * as an 'exception' message like a WsException's, to GraphQL as the error to report.
 */
@Catch(LockBusyError, QuorumUnavailableError)
export class RedlockExceptionFilter extends BaseExceptionFilter {
  private readonly fallbackTtl: number;

  constructor(@Inject(REDLOCK_MODULE_OPTIONS) options: RedlockModuleOptions) {
    super();
    this.fallbackTtl = options?.ttl ?? DEFAULTS.ttl;
  }

  override catch(error: LockBusyError | QuorumUnavailableError, host: ArgumentsHost): unknown {
    switch (host.getType<string>()) {
      case 'http':
        return super.catch(httpErrorFor(error, host.getArgByIndex(1), this.fallbackTtl, this.httpAdapterHost?.httpAdapter), host);
      case 'rpc':
        return throwError(() => error);
      case 'ws': {
        const client = host.switchToWs().getClient<WsClient>();
        const payload = { status: 'error', code: error.code, message: error instanceof LockBusyError ? 'The resource is locked' : 'The lock service is unavailable' };
        // Socket.IO clients emit; native `ws` sockets (readyState) need a message of their own.
        if (typeof client?.readyState === 'number' && typeof client.send === 'function') {
          client.send(JSON.stringify({ event: 'exception', data: payload }));
        } else {
          client?.emit?.('exception', payload);
        }
        return undefined;
      }
      default:
        return error;
    }
  }
}

interface WsClient {
  readyState?: number;
  send?: (data: string) => void;
  emit?: (event: string, data: unknown) => void;
}
