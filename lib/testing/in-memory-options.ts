import { RedlockConfigError } from '../core/index.js';
import type { NodeSpec, RedlockOptions } from '../core/index.js';
import { show } from '../core/errors.js';
import { validateNodeSpecs } from '../core/nodes/connections.js';
import { resolveEngineSettings } from '../core/options.js';
import type { EngineSettings } from '../core/options.js';

/** Options of `new InMemoryRedlock(options)`: the engine's own, plus how many nodes to pretend. */
export interface InMemoryRedlockOptions extends RedlockOptions {
  /**
   * The simulated nodes: a count (default 3), or the node list of your real configuration, of
   * which only the length is used (nothing connects). Quorums, `release()`'s `nodes` and the
   * effect of `nodesDown(k)` follow from it as on real nodes.
   */
  nodes?: number | readonly NodeSpec[];
}

export interface InMemorySettings {
  readonly engine: EngineSettings;
  readonly nodeCount: number;
}

/** More simulated nodes than this is a typo, not a test. */
const MAX_NODES = 99;

/**
 * The core's own validation (resolveEngineSettings), so the in-process engine accepts exactly
 * the options the real one does and rejects the rest with the same RedlockConfigError fields.
 */
export function resolveInMemorySettings(options: unknown, field = 'options'): InMemorySettings {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new RedlockConfigError(field, `must be an object, got ${show(options)}`);
  }
  const { nodes, ...engineOptions } = (options ?? {}) as InMemoryRedlockOptions;
  return { engine: resolveEngineSettings(engineOptions, field), nodeCount: nodeCountOf(nodes, `${field}.nodes`) };
}

function nodeCountOf(nodes: unknown, field: string): number {
  if (nodes === undefined) return 3;
  if (typeof nodes === 'number') {
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) {
      throw new RedlockConfigError(field, `must be a whole number of nodes from 1 to ${MAX_NODES} or a node list, got ${show(nodes)}`);
    }
    return nodes;
  }
  return validateNodeSpecs(nodes, field).length;
}
