import { fairMutex } from './fair.js';
import { fencedMutex } from './fenced.js';
import { mutex } from './mutex.js';
import type { LockMode, Primitive } from './primitive.js';
import { reader, semaphore } from './shared.js';

/** The primitive a call's options ask for (options.ts has already refused the meaningless combinations). */
export function primitiveFor(kind: { readonly mode: LockMode; readonly limit: number | undefined; readonly fenced: boolean; readonly fair: boolean }): Primitive {
  if (kind.fair) return fairMutex;
  if (kind.fenced) return fencedMutex;
  if (kind.limit !== undefined) return semaphore(kind.limit);
  return kind.mode === 'read' ? reader : mutex;
}
