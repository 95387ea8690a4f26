import { Injectable, Optional } from '@nestjs/common';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Observable } from 'rxjs';
import type { Subscription } from 'rxjs';
import type { Lock } from '../core/index.js';
import { httpErrorFor } from '../errors/http-exceptions.js';
import { runHolding } from './lock-context.js';
import { instanceOf } from '../decorators/locked-bindings.js';
import { enterLockedCall } from './locked-call.js';
import { lockedDefinitionOf } from '../decorators/locked-definition.js';
import { transportOfHost } from '../keys/transports.js';
import type { Transport } from '../keys/transports.js';
import { RedlockService } from '../redlock.service.js';

/** @nestjs/common's SSE_METADATA, set by @Sse() on the handler. */
const SSE_METADATA = '__sse__';

function isSse(context: ExecutionContext): boolean {
  return transportOfHost(context).kind === 'http' && Reflect.getMetadata(SSE_METADATA, context.getHandler()) === true;
}

/**
 * Locks a controller handler marked `@Locked` (HTTP, microservice, WebSocket, GraphQL). It
 * resolves the key from the raw request / message (interceptors run before pipes), acquires,
 * runs the handler in an async context holding the lock, and releases it BEFORE the result goes
 * out: NestJS sends a plain route's response as soon as the Observable completes (RPC and
 * WebSocket even as soon as it emits), and `finalize` cannot be awaited, so the release runs
 * before the last value, the completion or the error is passed on.
 * An Observable (SSE) result keeps the lock, auto-extended, until it completes, errors or the
 * client goes away (unsubscribe).
 */
@Injectable()
export class LockedInterceptor implements NestInterceptor {
  constructor(
    private readonly service: RedlockService,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const definition = lockedDefinitionOf(context.getHandler());
    if (!definition) return next.handle();
    const transport = transportOfHost(context);

    return new Observable<unknown>((subscriber) => {
      const waiting = new AbortController();
      let lock: Lock | undefined;
      let inner: Subscription | undefined;
      // Released once, whichever of complete / error / unsubscribe comes first.
      const release = async (): Promise<void> => {
        const held = lock;
        lock = undefined;
        await held?.release();
      };

      const start = async (): Promise<void> => {
        const resources = definition.key.resolve({ kind: 'context', transport, self: instanceOf(context.getClass()), args: context.getArgs() });
        const entry = await enterLockedCall(this.service, resources, definition, waiting.signal);
        if (subscriber.closed) {
          // The caller went away while we waited: do not keep a lock nobody will release.
          if (entry.kind === 'acquired') await entry.lock.release();
          return;
        }
        if (entry.kind === 'skipped') {
          // A skipped call returns undefined; an SSE stream that did not run simply ends, with no
          // event (an undefined value would go out as an empty `data:` message).
          if (!isSse(context)) subscriber.next(undefined);
          subscriber.complete();
          return;
        }
        if (entry.kind === 'acquired') lock = entry.lock;
        // handle() binds the handler to the async context it is called in: call it holding the lock.
        // RPC and WebSocket transports send each value the moment it is emitted, so a handler's
        // result would go out before the release. Each value waits one microtask: a result that
        // completes in the same turn (any plain or async handler's) goes out after the release;
        // the values of a longer stream go out a microtask late, the last one after the release.
        let pending: { readonly value: unknown } | undefined;
        const take = () => {
          const held = pending;
          pending = undefined;
          return held;
        };
        const flush = () => {
          const held = take();
          if (held) subscriber.next(held.value);
        };
        const thenEnd = (end: () => void) => {
          const last = take();
          void release().then(() => {
            if (last) subscriber.next(last.value);
            end();
          });
        };
        inner = runHolding(this.service.redlock, lock, () =>
          next.handle().subscribe({
            next: (value) => {
              flush();
              pending = { value };
              queueMicrotask(flush);
            },
            error: (error: unknown) => thenEnd(() => subscriber.error(error)),
            complete: () => thenEnd(() => subscriber.complete()),
          }), definition);
      };

      start().catch((error: unknown) => {
        if (!subscriber.closed) subscriber.error(this.mapError(error, transport));
      });

      return () => {
        waiting.abort();
        inner?.unsubscribe();
        void release();
      };
    });
  }

  /** In HTTP, a busy lock is a 409 (with Retry-After) and too few nodes a 503; elsewhere the RedlockErrors stay. */
  private mapError(error: unknown, transport: Transport): unknown {
    if (transport.kind !== 'http') return error;
    return httpErrorFor(error, transport.response, this.service.defaultTtl, this.adapterHost?.httpAdapter);
  }
}
