import { Inject, Injectable, Optional } from '@nestjs/common';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { catchError, throwError } from 'rxjs';
import type { Observable } from 'rxjs';
import { DEFAULTS } from '../core/index.js';
import { transportOfHost } from '../keys/transports.js';
import { httpErrorFor } from './http-exceptions.js';
import { REDLOCK_MODULE_OPTIONS } from '../redlock.constants.js';
import type { RedlockModuleOptions } from '../redlock-module-options.js';

/**
 * Registered globally by RedlockModule (APP_INTERCEPTOR): in HTTP, a LockBusyError or
 * QuorumUnavailableError thrown by a handler or anything it calls (a locked service method)
 * becomes a 409 / 503 HttpException before any exception filter sees it. The filters then
 * decide the response as for any HttpException, so the status survives a user's own global
 * catch-all filter, whichever filter Nest tries first. Other contexts pass through untouched.
 */
@Injectable()
export class LockErrorsInterceptor implements NestInterceptor {
  private readonly fallbackTtl: number;

  constructor(
    @Inject(REDLOCK_MODULE_OPTIONS) options: RedlockModuleOptions,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {
    this.fallbackTtl = options?.ttl ?? DEFAULTS.ttl;
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const transport = transportOfHost(context);
    if (transport.kind !== 'http') return next.handle();
    return next.handle().pipe(
      catchError((error: unknown) =>
        throwError(() => httpErrorFor(error, transport.response, this.fallbackTtl, this.adapterHost?.httpAdapter))),
    );
  }
}
