/** Injection token of the options given to `RedlockModule.forRoot()` / `forRootAsync()`. */
export const REDLOCK_MODULE_OPTIONS = Symbol('REDLOCK_MODULE_OPTIONS');

/** reflect-metadata key, on a method function, of what `@Locked` asked for (a LockedDefinition). */
export const LOCKED_METADATA = 'redlock:locked';

/** Nest Logger context of everything this package logs. */
export const REDLOCK_LOGGER_CONTEXT = 'Redlock';
