import { createHash } from 'node:crypto';

/**
 * A Lua script the engine runs on a node. Every script checks and writes in one step (rule 2:
 * never SETNX-then-EXPIRE), over all of a lock's keys at once, so a lock over several resources
 * is all-or-nothing on each node.
 */
export interface LockScript {
  readonly name: string;
  readonly source: string;
  /** SHA1 of the source, for EVALSHA (loaded once per node, re-sent after NOSCRIPT). */
  readonly sha: string;
}

export function lockScript(name: string, source: string): LockScript {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}
