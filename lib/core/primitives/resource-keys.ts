import { libraryKey } from '../nodes/reserved-keys.js';

/**
 * The keys one resource may use on a node. `lock` is the prefixed resource name itself (an
 * exclusive holder's token, with the lease as its expiry); the others are the library's own
 * records under the reserved prefix, so no resource name can collide with them.
 */
export interface ResourceKeys {
  /** Exclusive (write) holder: its token, expiring with its lease. */
  readonly lock: string;
  /** Shared holders (readers or semaphore permits): token -> end of its lease on the node's clock. */
  readonly shared: string;
  /** What the shared holders are: 'read', or a semaphore's limit. */
  readonly kind: string;
  /** A writer waiting for shared holders to leave: while it is there, no new shared holder joins. */
  readonly writerWaiting: string;
  /** The largest fence this node accepted for the resource, with the node generation it was written in. */
  readonly fence: string;
  /** Fair waiters: token -> ticket (their place in line). */
  readonly queue: string;
  /** Fair waiters: token -> when its place lapses on the node's clock (a waiter that left or died). */
  readonly queueDeadline: string;
  /** The last ticket this node handed out. */
  readonly queueTicket: string;
}

export function resourceKeys(keyPrefix: string, resource: string): ResourceKeys {
  return {
    lock: keyOf(keyPrefix, resource, 'lock'),
    shared: keyOf(keyPrefix, resource, 'shared'),
    kind: keyOf(keyPrefix, resource, 'kind'),
    writerWaiting: keyOf(keyPrefix, resource, 'writerWaiting'),
    fence: keyOf(keyPrefix, resource, 'fence'),
    queue: keyOf(keyPrefix, resource, 'queue'),
    queueDeadline: keyOf(keyPrefix, resource, 'queueDeadline'),
    queueTicket: keyOf(keyPrefix, resource, 'queueTicket'),
  };
}

/**
 * The pub/sub channel a release of `resource` is announced on (not a key: nothing is stored).
 * Reserved like the library's keys, so no resource's channel is another's.
 */
export function wakeChannel(keyPrefix: string, resource: string): string {
  return libraryKey(keyPrefix, `wake:${resource}`);
}

export function wakeChannels(keyPrefix: string, resources: readonly string[]): string[] {
  return resources.map((resource) => wakeChannel(keyPrefix, resource));
}

/** The key of one role of one resource (what resourceKeys(...)[role] is, without building the rest). */
function keyOf(keyPrefix: string, resource: string, role: keyof ResourceKeys): string {
  return role === 'lock' ? keyPrefix + resource : libraryKey(keyPrefix, `${ROLE_NAMES[role]}:${resource}`);
}

/**
 * The name of each library record in its key (`lock` is the resource name itself). Never with a
 * ':': a Cluster voter reads the resource back as what follows the first one (nodes/cluster-keys.ts).
 */
const ROLE_NAMES: Record<Exclude<keyof ResourceKeys, 'lock'>, string> = {
  shared: 'shared',
  kind: 'kind',
  writerWaiting: 'writer-waiting',
  fence: 'fence',
  queue: 'queue',
  queueDeadline: 'queue-deadline',
  queueTicket: 'queue-ticket',
};

/** The keys of every resource, grouped by role: all locks, then all shared sets, and so on. */
export function keysByRole(keyPrefix: string, resources: readonly string[], roles: readonly (keyof ResourceKeys)[]): string[] {
  const keys: string[] = [];
  for (const role of roles) for (const resource of resources) keys.push(keyOf(keyPrefix, resource, role));
  return keys;
}
