import { createServer } from 'node:net';

/** The default Redis service of the machine: never hand it out, whatever the OS says. */
const RESERVED_PORTS = new Set([6379]);

/**
 * A loopback port that was free a moment ago. The kernel picks it (listen on 0), so parallel
 * jest workers never agree on a fixed port; the caller must still cope with the small window in
 * which someone else can take it (redis-server then fails to bind, and we retry).
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.once('error', reject);
      server.listen(0, host, () => {
        const address = server.address();
        const picked = typeof address === 'object' && address !== null ? address.port : 0;
        server.close(() => resolve(picked));
      });
    });
    if (port > 0 && !RESERVED_PORTS.has(port)) return port;
  }
}
