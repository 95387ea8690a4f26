import type { Redis } from 'ioredis';

/**
 * ioredis listens for a socket's 'error' with `once`. A TLS socket whose handshake fails (an
 * untrusted certificate, say) can emit a second error, the server's alert, and with nobody
 * listening Node turns it into an uncaught exception that ends the process (seen here about
 * once in 300 failed handshakes). A misconfigured node must count as down, not crash the app:
 * every socket of a client we own gets a listener of its own, kept for the socket's life. The
 * first error still reaches ioredis, which reports it and reconnects as usual.
 *
 * ioredis has no public hook for its sockets, so this wraps its connector's connect(); a
 * version without that private member simply goes unguarded.
 */
export function guardSocketErrors(client: Redis): void {
  const connector = (client as unknown as { connector?: { connect?: (...args: unknown[]) => Promise<unknown> } }).connector;
  const connect = connector?.connect;
  if (!connector || typeof connect !== 'function') return;
  connector.connect = (...args: unknown[]) =>
    connect.apply(connector, args).then((stream) => {
      (stream as { on?: (event: string, listener: () => void) => void } | undefined)?.on?.('error', ignore);
      return stream;
    });
}

function ignore(): void {
  // The first error went to ioredis; later ones of a dead socket say nothing new.
}
