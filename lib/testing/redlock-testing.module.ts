import { ConfigurableModuleBuilder, Inject, Module } from '@nestjs/common';
import type { ConfigurableModuleAsyncOptions, DynamicModule, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { Redlock, RedlockConfigError } from '../core/index.js';
import { show } from '../core/errors.js';
import { LockedExplorer } from '../decorators/locked.explorer.js';
import { LockErrorsInterceptor } from '../errors/lock-errors.interceptor.js';
import { RedlockExceptionFilter } from '../errors/redlock-exception.filter.js';
import { LockedInterceptor } from '../locking/locked.interceptor.js';
import { REDLOCK_MODULE_OPTIONS } from '../redlock.constants.js';
import { RedlockService } from '../redlock.service.js';
import { resolveInMemorySettings } from './in-memory-options.js';
import type { InMemoryRedlockOptions } from './in-memory-options.js';
import { InMemoryRedlock } from './in-memory-redlock.js';
import { RedlockTestingControls } from './redlock-testing-controls.js';

/** Options of `RedlockTestingModule.forRoot()`: the engine's options (all optional), `nodes` as a count or a list. */
export interface RedlockTestingModuleOptions extends InMemoryRedlockOptions {
  /** Default true, as for RedlockModule. */
  isGlobal?: boolean;
}

/**
 * Options of `RedlockTestingModule.forRootAsync()`: RedlockModule.forRootAsync's shape (imports,
 * inject, useFactory | useClass | useExisting, a class with `createRedlockOptions()`), so a test
 * module can swap one for the other unchanged. What the factory makes may have `nodes` as a count
 * or as the production node list (only its length counts); a RedlockModuleOptions fits as it is.
 */
export type RedlockTestingModuleAsyncOptions = ConfigurableModuleAsyncOptions<InMemoryRedlockOptions, 'createRedlockOptions'> & {
  /** Default true, as for RedlockModule. */
  isGlobal?: boolean;
};

// The same builder settings as RedlockModule's: the same options token, factory method and extras.
const { ConfigurableModuleClass: RedlockTestingConfigurableModule } = new ConfigurableModuleBuilder<InMemoryRedlockOptions>({
  moduleName: 'RedlockTesting',
  optionsInjectionToken: REDLOCK_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createRedlockOptions')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();

/** Builds the engine from the resolved options; bad ones fail the start-up with RedlockConfigError naming the field. */
function createInMemoryRedlock(options: unknown): InMemoryRedlock {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new RedlockConfigError('options', `must be an object, got ${show(options)}`);
  }
  return new InMemoryRedlock(options as InMemoryRedlockOptions);
}

const ASYNC_SOURCES = ['useFactory', 'useClass', 'useExisting'] as const;
const ASYNC_KEYS = [...ASYNC_SOURCES, 'imports', 'inject', 'provideInjectionTokensFrom', 'isGlobal'];

/**
 * Nest's builder accepts any object and fails later with a message about providers; a test author
 * is told here which field is wrong. What RedlockModule.forRootAsync accepts passes, except a
 * second source of options, which it would silently ignore.
 */
function checkAsyncOptions(options: unknown): asserts options is RedlockTestingModuleAsyncOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new RedlockConfigError('options', `must be an object with useFactory, useClass or useExisting, got ${show(options)}`);
  }
  const o = options as Record<string, unknown>;
  const unknown = Object.keys(o).find((key) => !ASYNC_KEYS.includes(key));
  if (unknown) throw new RedlockConfigError(`options.${unknown}`, `is not a known option (known: ${ASYNC_KEYS.join(', ')})`);
  const sources = ASYNC_SOURCES.filter((key) => o[key] !== undefined);
  if (sources.length === 0) throw new RedlockConfigError('options', 'must have one of useFactory, useClass or useExisting');
  if (sources.length > 1) throw new RedlockConfigError(`options.${sources[1]}`, `cannot be combined with ${sources[0]} (give one of them)`);
  for (const key of sources) {
    if (typeof o[key] !== 'function') {
      throw new RedlockConfigError(`options.${key}`, `must be ${key === 'useFactory' ? 'a function' : 'a class (a provider token)'}, got ${show(o[key])}`);
    }
  }
  for (const key of ['imports', 'inject', 'provideInjectionTokensFrom']) {
    if (o[key] !== undefined && !Array.isArray(o[key])) throw new RedlockConfigError(`options.${key}`, `must be an array, got ${show(o[key])}`);
  }
  checkIsGlobal(o.isGlobal);
}

function checkIsGlobal(isGlobal: unknown): void {
  if (isGlobal !== undefined && typeof isGlobal !== 'boolean') {
    throw new RedlockConfigError('options.isGlobal', `must be a boolean, got ${show(isGlobal)}`);
  }
}

/**
 * RedlockModule over the in-process engine, for tests without Redis: the same RedlockService,
 * `@Locked` (re-entrancy, `current()`, `onBusy: 'skip'`), 409 / 503 mapping, and the core
 * `Redlock` token, which here is an InMemoryRedlock. `RedlockTestingControls` is injectable
 * to make resources busy, take nodes down and see what is held. A fresh engine per application.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    { provide: Redlock, useFactory: createInMemoryRedlock, inject: [REDLOCK_MODULE_OPTIONS] },
    { provide: RedlockTestingControls, useFactory: (redlock: InMemoryRedlock) => redlock.controls, inject: [Redlock] },
    // RedlockService and the error mapping read `ttl` from REDLOCK_MODULE_OPTIONS, as in RedlockModule.
    RedlockService,
    LockedInterceptor,
    LockedExplorer,
    { provide: APP_INTERCEPTOR, useClass: LockErrorsInterceptor },
    { provide: APP_FILTER, useClass: RedlockExceptionFilter },
  ],
  exports: [Redlock, RedlockService, LockedInterceptor, RedlockTestingControls],
})
export class RedlockTestingModule extends RedlockTestingConfigurableModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(Redlock) private readonly redlock: InMemoryRedlock,
    private readonly explorer: LockedExplorer,
  ) {
    super();
  }

  /** Bad options throw RedlockConfigError here, naming the field, as RedlockModule's start-up would. */
  static override forRoot(options: RedlockTestingModuleOptions = {}): DynamicModule {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new RedlockConfigError('options', `must be an object, got ${show(options)}`);
    }
    const { isGlobal, ...engineOptions } = options;
    checkIsGlobal(isGlobal);
    resolveInMemorySettings(engineOptions);
    return super.forRoot(options);
  }

  /**
   * As `RedlockModule.forRootAsync`: the options come from a factory, a class or an existing
   * provider. A malformed call throws here; bad options from the factory fail the start-up
   * (compile / init) with RedlockConfigError naming the field, as RedlockModule's do.
   */
  static override forRootAsync(options: RedlockTestingModuleAsyncOptions): DynamicModule {
    checkAsyncOptions(options);
    return super.forRootAsync(options);
  }

  onModuleInit(): Promise<void> {
    return this.explorer.exploreOrClose(this.redlock);
  }

  /** As RedlockModule: stop binding `@Locked` methods, release what is still held, stop every timer. */
  async onApplicationShutdown(): Promise<void> {
    this.explorer.stop();
    await this.redlock.quit();
  }
}
