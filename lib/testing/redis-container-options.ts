import { RedlockConfigError } from '../core/index.js';
import { show } from '../core/errors.js';

/** Options of `startRedisNodes(count, options)`. */
export interface StartRedisNodesOptions {
  /**
   * The image every node runs (default `'redis:7'`). Pulled when it is not on the machine yet;
   * without a registry, build or load one and give its name here. It must start with
   * `redis-server <args>` as its command, as the official image does.
   */
  image?: string;
  /** How long one node may take to answer PING after its container was created, ms (default 30 s; a pull comes on top). */
  startupTimeout?: number;
  /** More labels on every container, e.g. to find the ones of one CI job (`docker ps --filter label=...`). */
  labels?: Readonly<Record<string, string>>;
}

export interface RedisNodesSettings {
  readonly count: number;
  readonly image: string;
  readonly startupTimeoutMs: number;
  readonly labels: Readonly<Record<string, string>>;
}

export const DEFAULT_REDIS_IMAGE = 'redis:7';
const DEFAULT_STARTUP_TIMEOUT_MS = 30_000;
/** More nodes than this is a typo, not a test (each is a container). */
const MAX_NODES = 15;

export function resolveRedisNodesSettings(count: unknown, options: unknown): RedisNodesSettings {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_NODES) {
    throw new RedlockConfigError('count', `must be a whole number of nodes from 1 to ${MAX_NODES}, got ${show(count)}`);
  }
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new RedlockConfigError('options', `must be an object, got ${show(options)}`);
  }
  const { image = DEFAULT_REDIS_IMAGE, startupTimeout = DEFAULT_STARTUP_TIMEOUT_MS, labels = {}, ...unknown } = (options ?? {}) as StartRedisNodesOptions;
  const stray = Object.keys(unknown)[0];
  if (stray !== undefined) throw new RedlockConfigError(`options.${stray}`, 'is not an option of startRedisNodes (image, startupTimeout, labels)');
  if (typeof image !== 'string' || image.trim() === '' || /\s/.test(image)) {
    throw new RedlockConfigError('options.image', `must be an image name such as 'redis:7', got ${show(image)}`);
  }
  if (typeof startupTimeout !== 'number' || !Number.isInteger(startupTimeout) || startupTimeout < 1) {
    throw new RedlockConfigError('options.startupTimeout', `must be a positive whole number of ms, got ${show(startupTimeout)}`);
  }
  return { count, image, startupTimeoutMs: startupTimeout, labels: validLabels(labels) };
}

function validLabels(labels: unknown): Readonly<Record<string, string>> {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new RedlockConfigError('options.labels', `must be an object of label names to string values, got ${show(labels)}`);
  }
  for (const [name, value] of Object.entries(labels)) {
    if (name === '' || /\s/.test(name)) throw new RedlockConfigError('options.labels', `has a bad label name ${show(name)}`);
    if (typeof value !== 'string') throw new RedlockConfigError(`options.labels.${name}`, `must be a string, got ${show(value)}`);
  }
  return { ...(labels as Record<string, string>) };
}
