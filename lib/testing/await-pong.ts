import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const PROBE_TIMEOUT_MS = 500;
const PROBE_INTERVAL_MS = 20;

/**
 * Resolves once a Redis at host:port answers PING with +PONG, from this process. A container's
 * port mapping accepts connections before redis-server listens (and then closes them), so only
 * an answer says that the node is ready for the code under test.
 */
export async function awaitPong(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer';
  while (performance.now() < deadline) {
    last = await ping(host, port);
    if (last === '+PONG') return;
    await sleep(PROBE_INTERVAL_MS);
  }
  throw new Error(`Redis at ${host}:${port} did not answer PING within ${timeoutMs} ms (last: ${last})`);
}

function ping(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    let reply = '';
    const socket = connect({ host, port });
    const finish = (outcome: string): void => {
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => finish('timed out'));
    socket.on('error', (error) => finish(error.message));
    socket.on('close', () => finish(reply === '' ? 'connection closed' : reply));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) finish(reply.slice(0, reply.indexOf('\r\n')));
    });
  });
}
