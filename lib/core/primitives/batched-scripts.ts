import { ScriptBatch } from '../nodes/script-batch.js';
import { fairMutex } from './fair.js';
import { fencedMutex } from './fenced.js';
import { HELD_PROBE } from './held-probe.js';
import { mutex } from './mutex.js';
import { reader, semaphore } from './shared.js';

/**
 * The scripts a lock call runs on a node, which calls made in the same turn may share one
 * EVALSHA for (nodes/script-batch.ts, nodes/turn-queue.ts): take, extend and give of every
 * primitive, and the isLocked probe. The restart guard's scripts always go alone.
 */
export const LOCK_CALL_BATCH = new ScriptBatch(
  [...new Set([mutex, fairMutex, fencedMutex, reader, semaphore(2)].flatMap((p) => [p.take, p.extend, p.give])), HELD_PROBE],
);
