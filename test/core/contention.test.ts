import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findOverlaps } from '../support/overlap-checker.js';
import type { CriticalSection } from '../support/overlap-checker.js';
import { startRedisNodes } from '../support/redis-nodes.js';
import type { RedisNodes } from '../support/redis-nodes.js';

const run = promisify(execFile);
const register = fileURLToPath(new URL('../../tools/ts-register.mjs', import.meta.url));
const contender = fileURLToPath(new URL('./fixtures/contender.ts', import.meta.url));

const PROCESSES = 2;
const WORKERS = 4;
const ITERATIONS = 15;

let cluster: RedisNodes;

beforeAll(async () => {
  cluster = await startRedisNodes(4); // three lock nodes and a separate data node
});
afterAll(async () => {
  await cluster?.stop();
});

describe('genuinely concurrent contenders', () => {
  it(`${PROCESSES * WORKERS} contenders in ${PROCESSES} OS processes: no two hold at once, and the counter ends exact`, async () => {
    const lockUrls = cluster.urls().slice(0, 3).join(',');
    const dataUrl = cluster.nodes[3].url;
    const outputs = await Promise.all(
      Array.from({ length: PROCESSES }, (_, p) =>
        run(process.execPath, ['--import', register, contender, lockUrls, dataUrl, 'hot', String(WORKERS), String(ITERATIONS), `p${p}`], {
          timeout: 60_000,
        }),
      ),
    );
    const results = outputs.map((o) => JSON.parse(o.stdout) as { sections: CriticalSection[]; skipped: number });
    const sections = results.flatMap((r) => r.sections);
    const skipped = results.reduce((n, r) => n + r.skipped, 0);

    expect(sections.length + skipped).toBe(PROCESSES * WORKERS * ITERATIONS);
    expect(new Set(sections.map((s) => s.owner.split('/')[0])).size).toBe(PROCESSES);
    expect(findOverlaps(sections)).toEqual([]);
    const counter = Number(await cluster.nodes[3].client().get('counter:hot'));
    expect(counter).toBe(sections.length);
  }, 90_000);
});
