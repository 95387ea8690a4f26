/**
 * One 'abort' listener per caller signal, however many waits share it. An application that
 * passes one shutdown signal to every acquire can have dozens of them sleeping between attempts
 * at once, and Node warns (MaxListenersExceededWarning) past 10 listeners on one signal. The
 * listener is attached with the first watcher and removed with the last, so nothing stays on
 * the caller's signal once no wait needs it.
 */
interface Watchers {
  readonly callbacks: Set<() => void>;
  readonly dispatch: () => void;
}

const watched = new WeakMap<AbortSignal, Watchers>();

/** Calls `callback` once when `signal` aborts; the returned function stops watching. */
export function watchAbort(signal: AbortSignal, callback: () => void): () => void {
  let watchers = watched.get(signal);
  if (!watchers) {
    const callbacks = new Set<() => void>();
    const dispatch = () => {
      watched.delete(signal);
      for (const notify of callbacks) notify();
      callbacks.clear();
    };
    watchers = { callbacks, dispatch };
    watched.set(signal, watchers);
    signal.addEventListener('abort', dispatch, { once: true });
  }
  const { callbacks, dispatch } = watchers;
  // A wrapper of our own, so the same callback passed twice is still two watchers.
  const entry = () => callback();
  callbacks.add(entry);
  return () => {
    if (!callbacks.delete(entry) || callbacks.size > 0) return;
    watched.delete(signal);
    signal.removeEventListener('abort', dispatch);
  };
}
