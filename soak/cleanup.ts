import process from 'node:process';

/**
 * What must be undone however the soak ends: contenders killed, redis-servers stopped.
 * Normal ends run the steps themselves; Ctrl-C (or SIGTERM / SIGHUP) runs whatever is still
 * registered, newest first, then exits by the signal's conventional code. The orphan guard of
 * test/support still SIGKILLs any child left when the process exits.
 */
type Step = () => Promise<void>;

const steps = new Set<Step>();
let interrupted = false;

/** Register a clean-up step; the returned function unregisters it (call it once it ran). */
export function onInterrupt(step: Step): () => void {
  steps.add(step);
  return () => steps.delete(step);
}

export function wasInterrupted(): boolean {
  return interrupted;
}

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

export function installInterruptHandler(log: (line: string) => void): void {
  for (const signal of Object.keys(EXIT_CODES) as (keyof typeof EXIT_CODES)[]) {
    process.on(signal, () => {
      if (interrupted) return; // a second Ctrl-C while cleaning up: keep cleaning
      interrupted = true;
      log(`soak: ${signal}, cleaning up`);
      const all = [...steps].reverse();
      steps.clear();
      const bounded = new Promise<void>((resolve) => setTimeout(resolve, 10_000).unref());
      void Promise.race([all.reduce((chain, step) => chain.then(step).catch(() => undefined), Promise.resolve()), bounded]).then(() =>
        process.exit(EXIT_CODES[signal]),
      );
    });
  }
}
