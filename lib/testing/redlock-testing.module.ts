import { Inject, Module } from '@nestjs/common';
import type { DynamicModule, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
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
 * RedlockModule over the in-process engine, for tests without Redis: the same RedlockService,
 * `@Locked` (re-entrancy, `current()`, `onBusy: 'skip'`), 409 / 503 mapping, and the core
 * `Redlock` token, which here is an InMemoryRedlock. `RedlockTestingControls` is injectable
 * to make resources busy, take nodes down and see what is held. A fresh engine per application.
 */
@Module({})
export class RedlockTestingModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(Redlock) private readonly redlock: InMemoryRedlock,
    private readonly explorer: LockedExplorer,
  ) {}

  /** Bad options throw RedlockConfigError here, naming the field, as RedlockModule's start-up would. */
  static forRoot(options: RedlockTestingModuleOptions = {}): DynamicModule {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new RedlockConfigError('options', `must be an object, got ${show(options)}`);
    }
    const { isGlobal, ...engineOptions } = options;
    if (isGlobal !== undefined && typeof isGlobal !== 'boolean') {
      throw new RedlockConfigError('options.isGlobal', `must be a boolean, got ${show(isGlobal)}`);
    }
    resolveInMemorySettings(engineOptions);
    return {
      module: RedlockTestingModule,
      global: isGlobal ?? true,
      imports: [DiscoveryModule],
      providers: [
        // RedlockService and the error mapping read `ttl` from the options, as in RedlockModule.
        { provide: REDLOCK_MODULE_OPTIONS, useValue: engineOptions },
        { provide: Redlock, useFactory: () => new InMemoryRedlock(engineOptions) },
        { provide: RedlockTestingControls, useFactory: (redlock: InMemoryRedlock) => redlock.controls, inject: [Redlock] },
        RedlockService,
        LockedInterceptor,
        LockedExplorer,
        { provide: APP_INTERCEPTOR, useClass: LockErrorsInterceptor },
        { provide: APP_FILTER, useClass: RedlockExceptionFilter },
      ],
      exports: [Redlock, RedlockService, LockedInterceptor, RedlockTestingControls],
    };
  }

  onModuleInit(): void {
    this.explorer.explore();
  }

  /** As RedlockModule: stop binding `@Locked` methods, release what is still held, stop every timer. */
  async onApplicationShutdown(): Promise<void> {
    this.explorer.stop();
    await this.redlock.quit();
  }
}
