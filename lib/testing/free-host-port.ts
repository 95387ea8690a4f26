import { createServer } from 'node:net';

/**
 * A TCP port that is free on this machine right now, picked by the kernel, for a container's
 * port mapping. startRedisNodes chooses the port itself rather than let Docker pick one: Docker
 * 20.10 maps a dynamic port for IPv4 and IPv6 separately and may give them different numbers, so
 * one container's IPv6 mapping can sit on another's IPv4 port, and that node can then never be
 * restarted on its own port. A port we choose is bound on both. Someone may still take it before
 * Docker binds it; the caller retries with another.
 */
export async function freeHostPort(): Promise<number> {
  try {
    return await listenOnZero('::'); // dual stack: free on IPv6 and IPv4
  } catch {
    return listenOnZero('0.0.0.0'); // a machine without IPv6
  }
}

function listenOnZero(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port was assigned'))));
    });
  });
}
