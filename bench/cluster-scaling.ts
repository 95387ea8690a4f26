// Lock throughput with Redis Cluster voters: three voters, each a cluster of 1, 2 and then 3
// masters (real cluster-mode redis-server processes), 64 concurrent acquire+release loops on
// distinct keys. Shows the way a user outgrows one Redis per voter: each voter's load spreads
// over its shards. A benchmark, not a test: it asserts nothing.
//
//   node --import ./tools/ts-register.mjs bench/cluster-scaling.ts [--seconds 5] [--loops 64] [--masters 1,2,3] [--json FILE]
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Redlock } from '../lib/core/redlock.js';
import { startRedisCluster } from '../test/support/redis-cluster.js';
import { startRedisNodes } from '../test/support/redis-nodes.js';
import type { RedisCluster } from '../test/support/redis-cluster.js';

const { values } = parseArgs({
  allowNegative: true,
  options: {
    seconds: { type: 'string', default: '5' },
    loops: { type: 'string', default: '64' },
    masters: { type: 'string', default: '1,2,3' },
    plain: { type: 'boolean', default: true },
    json: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(`node --import ./tools/ts-register.mjs bench/cluster-scaling.ts [options]
  --seconds N    length of each measured run (default 5)
  --loops N      concurrent acquire+release loops, each on keys of its own (default 64)
  --masters L    masters per cluster to try, comma-separated (default 1,2,3)
  --no-plain     skip the reference run on three plain (non-cluster) nodes
  --json FILE    also write the figures as JSON
`);
  process.exit(0);
}
const seconds = Number(values.seconds);
const loops = Number(values.loops);
const mastersList = String(values.masters).split(',').map(Number);
if (!(seconds > 0) || !Number.isInteger(loops) || loops < 1 || mastersList.some((m) => !Number.isInteger(m) || m < 1)) {
  process.stderr.write('bad --seconds, --loops or --masters\n');
  process.exit(2);
}
const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const VOTERS = 3;
const TTL = 10_000;

interface Figure {
  readonly masters: number;
  readonly cycles: number;
  readonly errors: number;
  readonly ms: number;
  readonly opsPerSecond: number;
  /** Client CPU (user + system) per wall second: near 1.0 means the one Node process is the bottleneck. */
  readonly clientCpu: number;
  readonly commandsPerMaster: number[];
}

/** Waits until a fresh deployment's marking of every slot is done (it runs in the background after the first lock). */
async function marked(clusters: readonly RedisCluster[]): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const counts = await Promise.all(
      clusters.map(async (c) => {
        let total = 0;
        for (const m of c.masters) {
          const direct = m.direct();
          try {
            total += (await direct.keys('lock:__redlock__:marker:*')).length;
          } finally {
            direct.disconnect();
          }
        }
        return total;
      }),
    );
    if (counts.every((n) => n === 16_384)) return;
    await sleep(100);
  }
  throw new Error('marking every slot did not finish in 60 s');
}

async function commandsServed(clusters: readonly RedisCluster[]): Promise<number[]> {
  const out: number[] = [];
  for (const c of clusters) {
    for (const m of c.masters) {
      const direct = m.direct();
      try {
        const text = await direct.info('commandstats');
        let total = 0;
        for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (!/^(info|keys|cluster)/.test(match[1]!)) total += Number(match[2]);
        out.push(total);
      } finally {
        direct.disconnect();
      }
    }
  }
  return out;
}

async function measure(masters: number): Promise<Figure> {
  const clusters = await Promise.all(Array.from({ length: VOTERS }, () => startRedisCluster(masters)));
  const rl = new Redlock(clusters.map((c) => c.client()), { ttl: TTL, retryDelay: 20, retryJitter: 10 });
  try {
    await (await rl.acquire('warm')).release();
    await marked(clusters);
    // A short warm-up: every slot's boot sentinel is loaded by now; let the JIT settle too.
    await run(rl, Math.min(1_000, seconds * 200));
    const before = await commandsServed(clusters);
    const cpu = process.cpuUsage();
    const figure = await run(rl, seconds * 1_000);
    const used = process.cpuUsage(cpu);
    const after = await commandsServed(clusters);
    return {
      masters,
      ...figure,
      opsPerSecond: (figure.cycles / figure.ms) * 1_000,
      clientCpu: (used.user + used.system) / 1_000 / figure.ms,
      commandsPerMaster: after.map((n, i) => n - before[i]!),
    };
  } finally {
    await rl.quit();
    await Promise.all(clusters.map((c) => c.stop()));
  }
}

/** `loops` concurrent acquire+release loops on distinct keys (8 per loop, in turn). */
async function run(rl: Redlock, ms: number): Promise<{ cycles: number; errors: number; ms: number }> {
  const start = performance.now();
  const stopAt = start + ms;
  let cycles = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      for (let i = 0; performance.now() < stopAt; i++) {
        try {
          const lock = await rl.acquire(`tp:${loop}:${i % 8}`);
          await lock.release();
          cycles += 1;
        } catch {
          errors += 1;
        }
      }
    }),
  );
  return { cycles, errors, ms: performance.now() - start };
}

/** The reference: three plain redis-server nodes, one process per voter, as before clusters. */
async function measurePlain(): Promise<{ opsPerSecond: number; errors: number; clientCpu: number }> {
  const nodes = await startRedisNodes(VOTERS, { persist: false });
  const rl = new Redlock(nodes.nodes.map((n) => `redis://127.0.0.1:${n.directPort}`), { ttl: TTL, retryDelay: 20, retryJitter: 10 });
  try {
    await (await rl.acquire('warm')).release();
    await run(rl, Math.min(1_000, seconds * 200));
    const cpu = process.cpuUsage();
    const figure = await run(rl, seconds * 1_000);
    const used = process.cpuUsage(cpu);
    return { opsPerSecond: (figure.cycles / figure.ms) * 1_000, errors: figure.errors, clientCpu: (used.user + used.system) / 1_000 / figure.ms };
  } finally {
    await rl.quit();
    await nodes.stop();
  }
}

async function main(): Promise<void> {
  log(`${VOTERS} voters, each a Redis Cluster; ${loops} loops; ${seconds} s per run; ${cpus().length} cores; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const plain = values.plain ? await measurePlain() : undefined;
  if (plain) log(`plain nodes (reference): ${plain.opsPerSecond.toFixed(0)} acquire+release/s, ${plain.errors} errors, client CPU ${(plain.clientCpu * 100).toFixed(0)} %`);
  const figures: Figure[] = [];
  for (const masters of mastersList) {
    const figure = await measure(masters);
    figures.push(figure);
    const base = figures[0]!.opsPerSecond;
    const spread = figure.commandsPerMaster.slice(0, masters).map((n) => Math.round(n / (figure.ms / 1_000)));
    log(
      `${masters} master(s) per cluster: ${figure.opsPerSecond.toFixed(0)} acquire+release/s (x${(figure.opsPerSecond / base).toFixed(2)}), ` +
        `${figure.errors} errors, client CPU ${(figure.clientCpu * 100).toFixed(0)} %, commands/s on the first voter's masters: ${spread.join(' / ')}`,
    );
  }
  process.stdout.write(
    `| masters per cluster | acquire+release/s | vs 1 master | errors | client CPU |\n|---|---|---|---|---|\n` +
      (plain ? `| plain nodes (reference) | ${plain.opsPerSecond.toFixed(0)} | | ${plain.errors} | ${(plain.clientCpu * 100).toFixed(0)} % |\n` : '') +
      figures.map((f) => `| ${f.masters} | ${f.opsPerSecond.toFixed(0)} | x${(f.opsPerSecond / figures[0]!.opsPerSecond).toFixed(2)} | ${f.errors} | ${(f.clientCpu * 100).toFixed(0)} % |`).join('\n') +
      `\n\n${cpus().length} cores, load after ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
  );
  if (values.json) writeFileSync(values.json, JSON.stringify({ loops, seconds, plain, figures }, null, 2));
}

await main();
