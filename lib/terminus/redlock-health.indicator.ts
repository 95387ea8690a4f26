import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import { Redlock, RedlockConfigError } from '../core/index.js';
import { show } from '../core/errors.js';
import { quorumOf } from '../core/engine/verdict.js';
import { pingNode } from './node-ping.js';
import type { NodeHealth } from './node-ping.js';

/** Far below a load balancer's or kubelet's probe timeout (1 s by default in Kubernetes). */
const DEFAULT_TIMEOUT_MS = 500;

export interface RedlockHealthOptions {
  /** How long each node's PING may take before the node counts as down, ms (default 500). */
  timeout?: number;
}

/** What the indicator adds under its key, next to Terminus's `status`. */
export interface RedlockHealthDetails {
  /** Nodes that must answer for a lock to be granted (a majority; a semaphore may need more). */
  readonly quorum: number;
  /** Nodes that answered the PING in time. */
  readonly nodesUp: number;
  readonly nodes: readonly NodeHealth[];
  /** Set when some nodes are down but a quorum answers, on Terminus 11 too (which has no degraded status). */
  readonly degraded?: true;
}

/**
 * Terminus health indicator for the lock nodes: PINGs every node in parallel (through the
 * clients the locks use) and reports each one up or down with its latency. `up` when every node
 * answers; `degraded` when a quorum answers but not all (locks still work; Terminus 12 keeps the
 * check at 200 and says degraded, Terminus 11 reports up with `degraded: true`); `down` when no
 * quorum answers, which fails the check (503): no lock can be granted then.
 *
 * Provide it in the module of your health controller next to TerminusModule; it injects the
 * Redlock that RedlockModule provides.
 */
@Injectable()
export class RedlockHealthIndicator {
  constructor(
    @Inject(Redlock) private readonly redlock: Redlock,
    private readonly health: HealthIndicatorService,
  ) {}

  async isHealthy<const Key extends string = 'redlock'>(key: Key = 'redlock' as Key, options: RedlockHealthOptions = {}): Promise<HealthIndicatorResult<Key>> {
    if (typeof key !== 'string' || key.length === 0) throw new RedlockConfigError('key', `must be a non-empty string, got ${show(key)}`);
    const timeout = options?.timeout ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(timeout) || timeout <= 0) {
      throw new RedlockConfigError('options.timeout', `must be a positive integer (ms), got ${show(timeout)}`);
    }
    const session = this.health.check(key);
    const clients = this.redlock.clients;
    const nodes = await Promise.all(clients.map((client, index) => pingNode(client, index, timeout)));
    const nodesUp = nodes.filter((node) => node.status === 'up').length;
    const quorum = quorumOf(clients.length);
    const details: RedlockHealthDetails = { quorum, nodesUp, nodes };
    if (nodesUp === clients.length) return session.up({ ...details });
    if (nodesUp < quorum) return session.down({ ...details });
    const degraded = { ...details, degraded: true as const };
    // Terminus 12 has a degraded status; 11 has not, and a degraded service still serves: up.
    const withDegraded = session as { degraded?: (data: object) => HealthIndicatorResult<Key> };
    return typeof withDegraded.degraded === 'function' ? withDegraded.degraded(degraded) : session.up(degraded);
  }
}
