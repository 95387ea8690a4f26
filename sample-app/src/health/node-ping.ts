import type { Redis } from 'ioredis';
import type { NodeHealth } from './health-report.js';

/** Far below any load balancer's health-check timeout: a silent node must not stall /health. */
const PING_TIMEOUT_MS = 500;

/** PINGs one lock node through the client the lock module uses, so it sees what locks see. */
export async function pingNode(client: Redis, node: number): Promise<NodeHealth> {
  const address = `${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}`;
  // A client that is not connected would queue the PING until it reconnects: down, and say why.
  if (client.status !== 'ready') return { node, address, status: 'down', latencyMs: null, error: `connection ${client.status}` };
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
      }),
    ]);
    return { node, address, status: 'up', latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (error) {
    return { node, address, status: 'down', latencyMs: null, error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
