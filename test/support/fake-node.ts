import type { LockNode } from '../../lib/core/lock-node.js';
import type { LockScript } from '../../lib/core/scripts.js';

export type FakeBehaviour = 'yes' | 'no' | 'error' | 'hang';

/**
 * A scripted node for timing and quorum logic: it answers every script with a fixed vote,
 * fails, or never answers (until `wake()`).
 */
export class FakeNode implements LockNode {
  readonly calls: { script: string; keys: readonly string[]; args: readonly (string | number)[] }[] = [];
  private readonly hung: (() => void)[] = [];

  constructor(
    readonly index: number,
    public behaviour: FakeBehaviour,
    readonly address = `fake-${index}`,
  ) {}

  run(script: LockScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    this.calls.push({ script: script.name, keys, args });
    switch (this.behaviour) {
      case 'yes':
        return Promise.resolve(script.name === 'release' ? keys.length : 1);
      case 'no':
        return Promise.resolve(0);
      case 'error':
        return Promise.reject(new Error(`fake node ${this.index} failed`));
      case 'hang':
        return new Promise((resolve) => this.hung.push(() => resolve(0)));
    }
  }

  /** Let hung calls finish (with a "no"), as a node that wakes up late would. */
  wake(): void {
    for (const finish of this.hung.splice(0)) finish();
  }
}

export function fakeNodes(...behaviours: FakeBehaviour[]): FakeNode[] {
  return behaviours.map((b, i) => new FakeNode(i, b));
}
