import type { ChildProcess } from 'node:child_process';
// The real process object, not a test environment's copy: its 'exit' and signals are the ones that fire.
import process from 'node:process';

/** jest-worker ends a worker that does not exit by itself with SIGTERM (then SIGKILL). */
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
type Signal = (typeof SIGNALS)[number];

const live = new Set<ChildProcess>();

/** SIGKILL whatever is still running: 'exit' handlers must be synchronous, so no waiting. */
function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

function onSignal(signal: Signal): void {
  // A process that handles the signal itself (the demo, the sample app) shuts down in order and
  // stops its nodes last; killing them now would pull the nodes out from under that shutdown.
  // The 'exit' hook still catches whatever it leaves behind.
  if (process.listenerCount(signal) > 1) return;
  killAll();
  uninstall();
  // Listening to a signal cancels Node's default of dying from it: if nobody else handles it,
  // die from it as the sender intended.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  process.on('exit', killAll);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  process.off('exit', killAll);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/**
 * Keep a child from outliving this process: a crashed, force-exited or terminated jest worker
 * would otherwise leave redis-server orphans holding ports and temp dirs. The listeners only exist
 * while children do, so test files that load this module many times do not pile them up.
 * A SIGKILL of this process itself cannot be caught: nothing helps then.
 */
export function guardChild(child: ChildProcess): void {
  if (live.size === 0) install();
  live.add(child);
  child.once('exit', () => {
    live.delete(child);
    if (live.size === 0) uninstall();
  });
}
