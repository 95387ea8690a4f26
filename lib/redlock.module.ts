import { ConfigurableModuleBuilder, Inject, Module } from '@nestjs/common';
import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { Redlock, RedlockConfigError } from './core/index.js';
import { show } from './core/errors.js';
import { LockErrorsInterceptor } from './errors/lock-errors.interceptor.js';
import { LockedExplorer } from './decorators/locked.explorer.js';
import { LockedInterceptor } from './locking/locked.interceptor.js';
import { REDLOCK_MODULE_OPTIONS } from './redlock.constants.js';
import { RedlockExceptionFilter } from './errors/redlock-exception.filter.js';
import type { RedlockModuleOptions } from './redlock-module-options.js';
import { RedlockService } from './redlock.service.js';

export const { ConfigurableModuleClass: RedlockConfigurableModule, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<RedlockModuleOptions>({ moduleName: 'Redlock', optionsInjectionToken: REDLOCK_MODULE_OPTIONS })
    .setClassMethodName('forRoot')
    .setFactoryMethodName('createRedlockOptions')
    .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
    .build();

/** Builds the engine; a bad option fails the start-up with RedlockConfigError naming the field. */
function createRedlock(options: RedlockModuleOptions): Redlock {
  if (typeof options !== 'object' || options === null) {
    throw new RedlockConfigError('options', `must be an object with nodes, got ${show(options)}`);
  }
  const { nodes, ...rest } = options;
  return new Redlock(nodes, rest);
}

/**
 * `RedlockModule.forRoot({ nodes, ...options })` / `forRootAsync({ imports, inject, useFactory |
 * useClass | useExisting })`; global unless `isGlobal: false`. Provides and exports the core
 * `Redlock`, `RedlockService` and `LockedInterceptor`, and registers LockErrorsInterceptor and
 * RedlockExceptionFilter globally so lock errors are 409 / 503 in HTTP, never 500.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    { provide: Redlock, useFactory: createRedlock, inject: [REDLOCK_MODULE_OPTIONS] },
    RedlockService,
    LockedInterceptor,
    LockedExplorer,
    { provide: APP_INTERCEPTOR, useClass: LockErrorsInterceptor },
    { provide: APP_FILTER, useClass: RedlockExceptionFilter },
  ],
  exports: [Redlock, RedlockService, LockedInterceptor],
})
export class RedlockModule extends RedlockConfigurableModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(Redlock) private readonly redlock: Redlock,
    private readonly explorer: LockedExplorer,
  ) {
    super();
  }

  onModuleInit(): Promise<void> {
    return this.explorer.exploreOrClose(this.redlock);
  }

  /**
   * Stops auto-extension, releases the locks still held, and closes the connections the module
   * opened from URLs / options; ioredis instances passed in stay open (their owner closes them).
   */
  async onApplicationShutdown(): Promise<void> {
    this.explorer.stop();
    await this.redlock.quit();
  }
}
