import { randomBytes } from 'node:crypto';
import { LockBusyError, RedlockConfigError } from '../core/index.js';
import type { LockMode } from '../core/index.js';
import { resolveCallSettings, resolveResources, ttlValue } from '../core/options.js';
import type { EngineSettings } from '../core/options.js';
import { show } from '../core/errors.js';
import { holdKindOf } from './memory-holds.js';
import type { HoldInfo, MemoryHolds } from './memory-holds.js';
import { addressOf } from './simulated-nodes.js';
import type { SimulatedNodes } from './simulated-nodes.js';

/** Options of `controls.hold()`: the kind of lock "someone else" holds, and for how long. */
export interface HoldOptions {
  /** The hold ends by itself after this many ms; default: held until `release()` (or `reset()`). */
  ttl?: number;
  mode?: LockMode;
  limit?: number;
  /** Takes the next fence of the resource, as a fenced holder elsewhere would. */
  fenced?: boolean;
}

/** A lock held by another owner than the application under test. */
export interface HeldElsewhere {
  readonly resources: readonly string[];
  readonly fence?: number;
  /** Gives the hold back (waiters are woken, as by a real release). Safe to call twice. */
  release(): void;
}

/** A live hold, and whether the test made it (`controls.hold`) or the application did. */
export interface HeldLock extends Omit<HoldInfo, 'token'> {
  readonly by: 'test' | 'app';
}

/** What the controls reach inside the engine. */
export interface ControlledEngine {
  readonly settings: EngineSettings;
  readonly holds: MemoryHolds;
  readonly nodes: SimulatedNodes;
  nodeChanged(node: number, address: string, health: 'down' | 'up'): void;
}

/**
 * Test controls of the in-process engine (`InMemoryRedlock.controls`, injectable from
 * RedlockTestingModule): make resources busy, take nodes down and up, see what is held.
 */
export class RedlockTestingControls {
  private readonly elsewhere = new Map<string, () => void>();

  constructor(private readonly engine: ControlledEngine) {}

  /**
   * Another owner takes `resources` now, with the same rules as an acquire (a read hold lets
   * readers in, `limit` takes one permit). Throws LockBusyError when it cannot, as that owner
   * would find the lock busy; RedlockConfigError for bad arguments.
   */
  hold(resources: string | readonly string[], options?: HoldOptions): HeldElsewhere {
    const names = resolveResources(resources);
    const { ttl, ...kind } = holdOptionsOf(options);
    const call = resolveCallSettings(this.engine.settings, kind);
    const token = `test:${randomBytes(16).toString('hex')}`;
    const hold = holdKindOf(call.mode, call.limit);
    const taken = this.engine.holds.take(token, names, hold, ttlValue(ttl, 'options.ttl') ?? Infinity, call.fenced);
    if (taken.kind === 'mismatch') {
      throw new RedlockConfigError('options.limit', `${names.join(', ')} is held as ${taken.theirs === 'read' ? 'read locks' : `a semaphore with limit ${taken.theirs}`}`);
    }
    if (taken.kind === 'busy') {
      // A write hold that found readers marked itself waiting: this one does not wait.
      this.engine.holds.stopWaiting(token, names);
      throw new LockBusyError(names, 1, 0, taken.holderMs);
    }
    const release = () => {
      if (!this.elsewhere.delete(token)) return;
      this.engine.holds.give(token, names, hold);
    };
    this.elsewhere.set(token, release);
    return taken.fence === undefined ? { resources: names, release } : { resources: names, fence: taken.fence, release };
  }

  /**
   * Takes `count` nodes down (default: all of them). Calls that need more nodes than are left
   * fail with QuorumUnavailableError (HTTP 503); held locks cannot be extended (their signal
   * aborts) and their release reaches only the nodes still up.
   */
  nodesDown(count?: number): void {
    const { nodes } = this.engine;
    if (count !== undefined && (!Number.isInteger(count) || count < 1 || count > nodes.size)) {
      throw new RedlockConfigError('count', `must be a whole number of nodes from 1 to ${nodes.size}, got ${show(count)}`);
    }
    for (const node of nodes.takeDown(count ?? nodes.size)) this.engine.nodeChanged(node, addressOf(node), 'down');
  }

  /** Brings every node back, with the holds they had. */
  nodesUp(): void {
    for (const node of this.engine.nodes.bringUp()) this.engine.nodeChanged(node, addressOf(node), 'up');
  }

  /** Every live hold now (leases that ended are gone), the application's and the test's. */
  held(resource?: string): HeldLock[] {
    return this.engine.holds
      .snapshot()
      .filter((h) => resource === undefined || h.resource === resource)
      .map(({ token, ...info }) => ({ ...info, by: this.elsewhere.has(token) ? 'test' : 'app' }));
  }

  /**
   * Ends every hold on the resource at once, as if its keys had expired or been deleted on the
   * nodes: the holder is not told; its next extension fails and its signal aborts.
   */
  expire(resource: string): void {
    this.engine.holds.expire(resolveResources(resource, 'resource'));
  }

  /** Between tests: every node up, every hold the test made released. */
  reset(): void {
    this.nodesUp();
    for (const release of [...this.elsewhere.values()]) release();
  }
}

function holdOptionsOf(options: unknown): HoldOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new RedlockConfigError('options', `must be an object, got ${show(options)}`);
  }
  const known = ['ttl', 'mode', 'limit', 'fenced'];
  const unknown = Object.keys(options).find((key) => !known.includes(key));
  if (unknown) throw new RedlockConfigError(`options.${unknown}`, `is not a known option (known: ${known.join(', ')})`);
  return options as HoldOptions;
}
