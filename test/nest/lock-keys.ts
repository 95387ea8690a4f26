import type { RedisNodes } from '../support/redis-nodes.js';

/** The keys matching `pattern` on each node, read directly (not through the proxies). */
export async function keysOn(cluster: RedisNodes, pattern = '*'): Promise<string[][]> {
  return Promise.all(
    cluster.nodes.map(async (node) => {
      const client = node.client();
      try {
        return (await client.keys(pattern)).sort();
      } finally {
        client.disconnect();
      }
    }),
  );
}

/** Log lines a Nest application wrote, for checks such as "no password in any message". */
export class CapturingLogger {
  readonly lines: string[] = [];
  log(...m: unknown[]): void { this.add('log', m); }
  error(...m: unknown[]): void { this.add('error', m); }
  warn(...m: unknown[]): void { this.add('warn', m); }
  debug(...m: unknown[]): void { this.add('debug', m); }
  verbose(...m: unknown[]): void { this.add('verbose', m); }
  fatal(...m: unknown[]): void { this.add('fatal', m); }

  private add(level: string, message: unknown[]): void {
    this.lines.push(`${level} ${message.map((x) => (x instanceof Error ? `${x.message}\n${x.stack}` : String(x))).join(' ')}`);
  }
}
