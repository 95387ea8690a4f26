import { randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';

/** Lowest port handed out: clear of the well-known and most registered service ports. */
const LOWEST = 10_000;
const TRIES = 20;

/**
 * A TCP port that is free on this machine right now, for a container's port mapping.
 * startRedisNodes chooses the port itself rather than let Docker pick one: Docker 20.10 maps a
 * dynamic port for IPv4 and IPv6 separately and may give them different numbers, so one
 * container's IPv6 mapping can sit on another's IPv4 port, and that node can then never be
 * restarted on its own port. A port we choose is bound on both.
 * On Linux it comes from below the ephemeral range (32768 and up by default), which Docker's
 * dynamic ports and every outgoing connection's local port are taken from: while a node is down
 * for restartEmpty(), neither can take its port. Someone may still take it before Docker binds
 * it; the caller retries with another.
 */
export async function freeHostPort(): Promise<number> {
  const ephemeralStart = await linuxEphemeralRangeStart();
  if (ephemeralStart !== undefined && ephemeralStart - LOWEST >= 1_000) {
    for (let i = 0; i < TRIES; i++) {
      const port = LOWEST + randomInt(ephemeralStart - LOWEST);
      if ((await listenOn(port)) !== undefined) return port;
    }
  }
  const picked = await listenOn(0); // the kernel's choice
  if (picked === undefined) throw new Error('no free TCP port for a Redis container');
  return picked;
}

async function linuxEphemeralRangeStart(): Promise<number | undefined> {
  try {
    const start = Number((await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/)[0]);
    return Number.isInteger(start) ? start : undefined;
  } catch {
    return undefined; // not Linux
  }
}

/** The port it could listen on (dual stack, or IPv4 alone on a machine without IPv6), then freed; undefined when taken. */
async function listenOn(port: number): Promise<number | undefined> {
  try {
    return await listenOnce(port, '::');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') return undefined;
    return listenOnce(port, '0.0.0.0').catch(() => undefined);
  }
}

function listenOnce(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port, host }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (bound > 0 ? resolve(bound) : reject(new Error('no port was assigned'))));
    });
  });
}
