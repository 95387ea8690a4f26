import { RedlockConfigError } from '../core/index.js';
import type { RedlockService } from '../redlock.service.js';

/**
 * Which RedlockService a `@Locked` provider method uses. A method wrapper runs outside Nest's
 * DI, so the module's explorer binds each instance (and class, for request-scoped providers)
 * to the service of the RedlockModule its module imports; no hidden property is injected.
 */
export enum BindingStrength {
  /** The RedlockModule is global and the provider's module does not import one itself. */
  Global = 1,
  /** The provider's module imports this RedlockModule (directly or through re-exports). */
  Imported = 2,
}

interface Binding {
  readonly service: RedlockService;
  readonly strength: BindingStrength;
}

const byInstance = new WeakMap<object, Binding>();
const byClass = new WeakMap<object, Binding>();
/** Static instances of a class and their service, for key functions of handlers (interceptors only get the class). */
const instancesByClass = new WeakMap<object, Map<object, RedlockService>>();
/** Services of the RedlockModules that have started and not shut down, in start order. */
const running = new Set<RedlockService>();

export function startServing(service: RedlockService): void {
  running.add(service);
}

export function stopServing(service: RedlockService): void {
  running.delete(service);
}

export function bindInstance(instance: object, service: RedlockService, strength: BindingStrength): void {
  bind(byInstance, instance, service, strength);
  const cls = instance.constructor as object;
  const instances = instancesByClass.get(cls) ?? new Map<object, RedlockService>();
  // Forget the instances of applications that have shut down (tests start many in one process).
  for (const [known, owner] of instances) if (!running.has(owner)) instances.delete(known);
  instances.set(instance, service);
  instancesByClass.set(cls, instances);
}

export function bindClass(cls: object, service: RedlockService, strength: BindingStrength): void {
  bind(byClass, cls, service, strength);
}

/** The instance of `cls` when exactly one is known in the running applications. */
export function instanceOf(cls: object): object | undefined {
  const live = [...(instancesByClass.get(cls) ?? [])].filter(([, service]) => running.has(service));
  return live.length === 1 ? live[0]![0] : undefined;
}

/**
 * The service for a call on `self`: its own binding, its class's, or else the only running one.
 * With several RedlockModules and no binding, it refuses to guess.
 */
export function serviceFor(self: unknown, where: string): RedlockService {
  const target = self as object | null | undefined;
  if (target && (typeof target === 'object' || typeof target === 'function')) {
    // An instance stays with its module even after it shut down (the call then fails, saying so).
    const own = byInstance.get(target);
    if (own) return own.service;
    const ofClass = byClass.get(typeof target === 'function' ? target : target.constructor);
    if (ofClass && running.has(ofClass.service)) return ofClass.service;
  }
  if (running.size === 1) return [...running][0]!;
  throw new RedlockConfigError(
    `@Locked ${where}`,
    running.size === 0
      ? 'no RedlockModule has started; import RedlockModule.forRoot(...) and call the method once the application is initialised'
      : `${running.size} RedlockModules are running and this object is a provider of none of them; make it a provider of a module that imports one`,
  );
}

function bind(map: WeakMap<object, Binding>, key: object, service: RedlockService, strength: BindingStrength): void {
  const existing = map.get(key);
  if (existing && running.has(existing.service) && existing.strength >= strength) return;
  map.set(key, { service, strength });
}
