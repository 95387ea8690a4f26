import { Logger, UseFilters, UseInterceptors } from '@nestjs/common';
import { isObservable } from 'rxjs';
import { RedlockConfigError } from '../core/index.js';
import { takeHandled } from '../locking/lock-context.js';
import type { LockKeySpec } from '../keys/lock-key.js';
import { callLocked } from '../locking/locked-call.js';
import { serviceFor } from './locked-bindings.js';
import { createLockedDefinition, lockedDefinitionOf } from './locked-definition.js';
import type { LockedDefinition, LockedOptions } from './locked-definition.js';
import { LockedInterceptor } from '../locking/locked.interceptor.js';
import { RedlockExceptionFilter } from '../errors/redlock-exception.filter.js';
import { LOCKED_METADATA, REDLOCK_LOGGER_CONTEXT } from '../redlock.constants.js';

type AnyMethod = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Holds a distributed lock while the method runs.
 *
 * Controller handlers (HTTP, microservice, WebSocket, GraphQL) are locked by LockedInterceptor,
 * which this applies: it resolves the key from the request or message and holds the lock until
 * the response (or the Observable) is done. Methods of plain providers never meet interceptors,
 * so the method itself is wrapped as well; when the interceptor already holds the lock for this
 * very invocation, the wrapper just runs the method: one acquisition per call.
 *
 * A locked provider method returns a Promise (acquiring is asynchronous): declare it `async`.
 */
export function Locked(key: LockKeySpec, options?: LockedOptions): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    const className = typeof target === 'function' ? target.name : target.constructor.name;
    const where = `${className}#${String(propertyKey)}`;
    const original = descriptor.value as unknown;
    if (typeof original !== 'function') {
      throw new RedlockConfigError(`@Locked on ${where}`, 'must decorate a method (not an accessor or a field)');
    }
    if (lockedDefinitionOf(original)) {
      throw new RedlockConfigError(`@Locked on ${where}`, 'is applied twice; give one @Locked an array of keys instead');
    }
    const method = original as AnyMethod;
    const definition = createLockedDefinition(where, method, key, options);

    const wrapper = function (this: unknown, ...args: unknown[]): unknown {
      if (takeHandled(definition)) return method.apply(this, args);
      return callLockedMethod(definition, method, this, args);
    };
    keepIdentity(wrapper, method);
    Reflect.defineMetadata(LOCKED_METADATA, definition, wrapper);
    (descriptor as TypedPropertyDescriptor<unknown>).value = wrapper;
    UseInterceptors(LockedInterceptor)(target, propertyKey, descriptor);
    // Global filters never reach WebSocket gateways (nor a hybrid app's microservices by default).
    UseFilters(RedlockExceptionFilter)(target, propertyKey, descriptor);
    return descriptor;
  };
}

async function callLockedMethod(definition: LockedDefinition, method: AnyMethod, self: unknown, args: unknown[]): Promise<unknown> {
  const service = serviceFor(self, definition.where);
  const resources = definition.key.resolve({ kind: 'method', self, args });
  const result = await callLocked(service, resources, definition, () => method.apply(self, args));
  if (isObservable(result)) warnObservableOnce(definition);
  return result;
}

/**
 * Nest reads routes, guards, pipes, Swagger… from reflect-metadata on the method function. A
 * decorator applied before this one (written below it) put its metadata on the original, so it
 * is copied; `name` and `length` are kept for the same reason (a naive wrapper above `@Get()`
 * loses the route: 404).
 */
function keepIdentity(wrapper: AnyMethod, original: AnyMethod): void {
  for (const key of Reflect.getOwnMetadataKeys(original)) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, original), wrapper);
  }
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
  Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true });
}

const warned = new WeakSet<LockedDefinition>();

function warnObservableOnce(definition: LockedDefinition): void {
  if (warned.has(definition)) return;
  warned.add(definition);
  new Logger(REDLOCK_LOGGER_CONTEXT).warn(
    `${definition.where} returned an Observable outside a handler: its lock was held only until the ` +
      'Observable was returned, not while it runs. Lock around its subscription instead (RedlockService.using).',
  );
}
