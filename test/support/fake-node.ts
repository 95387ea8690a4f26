import type { LockNode } from '../../lib/core/nodes/lock-node.js';
import type { LockScript } from '../../lib/core/nodes/lock-script.js';

export type FakeBehaviour = 'yes' | 'no' | 'error' | 'hang';

/** Where a fake node stands towards rule 15, as the acquire script reports it (see scripts.ts). */
export type FakeStanding = { kind: 'served'; largestLease: number } | { kind: 'quarantined'; ms: number } | { kind: 'unmarked' };

/**
 * A scripted node for timing and quorum logic: it answers every script with a fixed vote,
 * fails, or never answers (until `wake()`).
 */
export class FakeNode implements LockNode {
  readonly calls: { script: string; keys: readonly string[]; args: readonly (string | number)[] }[] = [];
  private readonly hung: (() => void)[] = [];
  /**
   * How it answers acquire, as the real take scripts do (primitives/take-reply.ts);
   * unset, a served node. A seal it receives marks it (served), with a quarantine when asked.
   */
  standing: FakeStanding | undefined;
  /** With a served standing: how long the deployment still counts as being born, ms. */
  birthMs = 0;

  constructor(
    readonly index: number,
    public behaviour: FakeBehaviour,
    readonly address = `fake-${index}`,
  ) {}

  run(script: LockScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    this.calls.push({ script: script.name, keys, args });
    switch (this.behaviour) {
      case 'yes':
      case 'no':
        return Promise.resolve(this.answer(script.name, this.behaviour === 'yes', keys, args));
      case 'error':
        return Promise.reject(new Error(`fake node ${this.index} failed`));
      case 'hang':
        return new Promise((resolve) => this.hung.push(() => resolve(0)));
    }
  }

  private answer(script: string, yes: boolean, keys: readonly string[], args: readonly (string | number)[]): unknown {
    // Give scripts take two keys per resource (the hold, and its writer-waiting or kind key).
    if (script === 'release' || script === 'release-shared') return yes ? keys.length / 2 : 0;
    if (script === 'seal') {
      const window = Number(args[1]);
      this.standing = window > 0 ? { kind: 'quarantined', ms: window } : { kind: 'served', largestLease: Number(args[0]) };
      return 1;
    }
    if (!script.startsWith('acquire')) return yes ? 1 : 0;
    const s = this.standing ?? { kind: 'served', largestLease: 0 };
    const code = s.kind === 'served' ? 0 : s.kind === 'quarantined' ? 1 : 2;
    const ms = s.kind === 'served' ? s.largestLease : s.kind === 'quarantined' ? s.ms : 0;
    // {taken, standing, ms, birth, token, detail (0 taken / 1 busy), value, fence}
    return [yes ? 1 : 0, code, ms, s.kind === 'served' ? this.birthMs : 0, String(args[0]), yes ? 0 : 1, 0, 0];
  }

  /** Let hung calls finish (with a "no"), as a node that wakes up late would. */
  wake(): void {
    for (const finish of this.hung.splice(0)) finish();
  }
}

export function fakeNodes(...behaviours: FakeBehaviour[]): FakeNode[] {
  return behaviours.map((b, i) => new FakeNode(i, b));
}
