import type { NodeSpec, RedlockOptions } from './core/index.js';

/**
 * Options of `RedlockModule.forRoot()`: the core's options plus the nodes. Nodes given as URLs
 * or ioredis options are connected (and on shutdown closed) by the module; ioredis instances
 * are used as they are and left open.
 */
export interface RedlockModuleOptions extends RedlockOptions {
  /** The independent Redis masters (an odd number, 3 or 5 recommended). */
  nodes: readonly NodeSpec[];
}

/** For `forRootAsync({ useClass })` / `useExisting`: a provider that makes the options. */
export interface RedlockOptionsFactory {
  createRedlockOptions(): RedlockModuleOptions | Promise<RedlockModuleOptions>;
}
