import { Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import type { Module } from '@nestjs/core/injector/module.js';
import { RedlockConfigError } from '../core/index.js';
import { BindingStrength, bindClass, bindInstance, startServing, stopServing } from './locked-bindings.js';
import { lockedDefinitionOf } from './locked-definition.js';
import type { LockedDefinition } from './locked-definition.js';
import { RedlockService } from '../redlock.service.js';

/**
 * Metadata keys that make a method a handler Nest calls through interceptors: HTTP routes,
 * microservice patterns, WebSocket messages, GraphQL resolvers (the optional packages'
 * constants, spelled out so none of them has to be installed).
 */
const HANDLER_METADATA = [
  'method',
  'microservices:pattern',
  'message',
  'graphql:resolver_type',
  'graphql:resolver_name',
  'graphql:resolve_property',
];

/**
 * Runs when a RedlockModule starts. Validation happens here rather than in the decorator
 * because only here is it known whether a method is a handler (`<id>` = a route param) or a
 * plain provider method (`<id>` = its parameter): a provider placeholder naming no parameter
 * makes the application fail to start. It also binds each instance with `@Locked` methods to
 * the service of the RedlockModule its module imports, which the method wrappers use.
 */
@Injectable()
export class LockedExplorer {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly service: RedlockService,
  ) {}

  explore(): void {
    const wrappers = [...this.discovery.getControllers(), ...this.discovery.getProviders()];
    const own = wrappers.find((w) => w.instance === this.service)?.host;
    const locked = wrappers
      .map((wrapper) => ({ wrapper, methods: this.lockedMethods(wrapper) }))
      .filter(({ methods }) => methods.length > 0);
    for (const { methods } of locked) check(methods);
    startServing(this.service);
    for (const { wrapper } of locked) this.bind(wrapper, own);
  }

  stop(): void {
    stopServing(this.service);
  }

  /**
   * The module's start: explore, or, when a `@Locked` definition is refused, undo it and close
   * the engine before rethrowing, since Nest runs no shutdown hook for an application that
   * failed to start.
   */
  async exploreOrClose(engine: { quit(): Promise<unknown> }): Promise<void> {
    try {
      this.explore();
    } catch (error) {
      this.stop();
      await engine.quit();
      throw error;
    }
  }

  private bind(wrapper: InstanceWrapper, own: Module | undefined): void {
    const strength = own && wrapper.host ? reach(wrapper.host, own) : undefined;
    if (strength === undefined) return;
    const instance = wrapper.instance as unknown;
    if (wrapper.isDependencyTreeStatic() && instance && typeof instance === 'object') bindInstance(instance, this.service, strength);
    // Request-scoped and transient instances are made later, per request: bind their class.
    if (!wrapper.inject && typeof wrapper.metatype === 'function') bindClass(wrapper.metatype, this.service, strength);
  }

  private lockedMethods(wrapper: InstanceWrapper): LockedMethod[] {
    const instance = wrapper.instance as unknown;
    const prototype =
      instance && typeof instance === 'object'
        ? Object.getPrototypeOf(instance)
        : !wrapper.inject && typeof wrapper.metatype === 'function' ? wrapper.metatype.prototype : undefined;
    if (!prototype || prototype === Object.prototype) return [];
    return this.scanner.getAllMethodNames(prototype).flatMap((name) => {
      const method = (prototype as Record<string, unknown>)[name];
      const definition = lockedDefinitionOf(method);
      return definition ? [{ definition, method }] : [];
    });
  }
}

interface LockedMethod {
  readonly definition: LockedDefinition;
  /** The method as Nest sees it (with the metadata of every decorator). */
  readonly method: unknown;
}

/** Provider methods only: in a handler `<id>` means the request's or message's, not a parameter. */
function check(methods: readonly LockedMethod[]): void {
  for (const { definition, method } of methods) {
    if (isHandler(method)) continue;
    const [problem] = definition.key.methodProblems();
    if (problem) throw new RedlockConfigError(`@Locked key of ${definition.where}`, problem);
  }
}

function isHandler(fn: unknown): boolean {
  return HANDLER_METADATA.some((key) => Reflect.hasMetadata(key, fn as object));
}

/** How strongly a provider in `host` is tied to the RedlockModule `target`, if at all. */
function reach(host: Module, target: Module): BindingStrength | undefined {
  if (host === target || [...host.imports].some((m) => m === target || reExports(m, target, new Set()))) {
    return BindingStrength.Imported;
  }
  return target.isGlobal ? BindingStrength.Global : undefined;
}

/** Does `module` re-export the RedlockModule `target` (by its class) that it imports? */
function reExports(module: Module, target: Module, seen: Set<Module>): boolean {
  if (seen.has(module)) return false;
  seen.add(module);
  if (!module.exports.has(target.metatype)) return false;
  return [...module.imports].some((m) => m === target || reExports(m, target, seen));
}
