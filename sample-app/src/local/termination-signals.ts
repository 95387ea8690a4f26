const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs `cleanup` once on the first SIGINT / SIGTERM / SIGHUP, then dies of that same signal, so
 * the exit status still says why the process ended. Further signals meanwhile are ignored (a
 * second Ctrl-C must not cut the cleanup short and orphan redis-server processes).
 * Returns a function that removes the handlers again.
 */
export function onTerminationSignal(cleanup: (signal: NodeJS.Signals) => Promise<void>): () => void {
  let running: Promise<void> | undefined;
  const remove = (): void => {
    for (const signal of SIGNALS) process.off(signal, handler);
  };
  function handler(signal: NodeJS.Signals): void {
    running ??= cleanup(signal)
      .catch((error: unknown) => console.error('cleanup after', signal, 'failed:', error))
      .finally(() => {
        remove();
        process.kill(process.pid, signal);
      });
  }
  for (const signal of SIGNALS) process.on(signal, handler);
  return remove;
}
