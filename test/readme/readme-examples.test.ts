import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisNodes } from '../support/redis-nodes.js';
import { packageEntryPoints } from './package-entry-points.js';
import { packageOf, readMarkdownBlocks, type MarkdownBlock } from './readme-blocks.js';
import { pointAtNodes, RUN_TIMEOUT_MS, runExample, runJestExample } from './run-example.js';
import { typeCheckExamples, type ExampleFile, type TypeCheckResult } from './type-check-examples.js';

// Every TypeScript block of the READMEs is a checked example (how to mark one: "Checked examples"
// in README.md). Each is written as a module of its own into .tmp/ (inside the repository, so
// node_modules resolve), beside links to the stand-ins of test/readme/app/, and all of them are
// type-checked in one program; the ones marked `runs` then run against real redis-server nodes.
const root = fileURLToPath(new URL('../..', import.meta.url));
const MARKDOWN_FILES = ['README.md', 'sample-app/README.md'];
const TYPESCRIPT = new Set(['ts', 'typescript']);
const STAND_INS = join(root, 'test', 'readme', 'app');

const blocks = MARKDOWN_FILES.flatMap((file) => readMarkdownBlocks(join(root, file), file));
const examples = blocks.filter((b) => TYPESCRIPT.has(b.lang));
const { name: packageName, entries } = packageEntryPoints(root);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> };
const allowedPackages = new Set([packageName, ...Object.keys(pkg.peerDependencies)]);
const installed = (name: string) => existsSync(join(root, 'node_modules', name, 'package.json'));

const where = (b: MarkdownBlock) => `${b.source}:${b.line}`;
const missingNeeds = (b: MarkdownBlock) => b.needs.filter((n) => !installed(n));
const checked = examples.filter((b) => !b.fragment && missingNeeds(b).length === 0);
const runnable = checked.filter((b) => b.runs);

let dir: string;
let files: ExampleFile[];
let result: TypeCheckResult | undefined;

const fileName = (b: MarkdownBlock) => `${b.source.replace(/\.md$/i, '').replace(/[^\w]+/g, '-').toLowerCase()}-L${b.line}.ts`;

beforeAll(async () => {
  await mkdir(join(root, '.tmp'), { recursive: true });
  dir = await mkdtemp(join(root, '.tmp', 'readme-examples-'));
  for (const standIn of readdirSync(STAND_INS)) await symlink(join(STAND_INS, standIn), join(dir, standIn));
  files = checked.map((block) => ({ path: join(dir, fileName(block)), block }));
  await Promise.all(files.map((f) => writeFile(f.path, f.block.code)));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function typeChecked(): TypeCheckResult {
  result ??= typeCheckExamples(root, files, entries);
  return result;
}

describe('README examples', () => {
  it('are found: TypeScript blocks, and at least one that runs', () => {
    expect(examples.length).toBeGreaterThanOrEqual(10);
    expect(runnable.length).toBeGreaterThanOrEqual(1);
  });

  it('type-check, all in one program with the compiler options of tsconfig.json', () => {
    expect(typeChecked().problems).toEqual([]);
  }, 120_000);

  it('import only the package, its peers and Node built-ins, or name in their text the package they need', () => {
    const { imports } = typeChecked();
    const problems: string[] = [];
    for (const file of files) {
      const { block } = file;
      const used = new Set<string>();
      for (const specifier of imports.get(file.path) ?? []) {
        const name = packageOf(specifier);
        if (name === undefined || isBuiltin(specifier) || allowedPackages.has(name)) continue;
        used.add(name);
        if (!block.needs.includes(name)) problems.push(`${where(block)}: imports ${name}, not marked <!-- example: needs ${name} -->`);
      }
      for (const name of block.needs) {
        if (!used.has(name)) problems.push(`${where(block)}: marked as needing ${name}, which it does not import`);
      }
    }
    for (const block of examples) {
      for (const name of block.needs) {
        const comments = block.code.split('\n').filter((line) => line.includes('//')).join('\n');
        if (!block.prose.includes(name) && !comments.includes(name)) {
          problems.push(`${where(block)}: needs ${name}, but neither the text above it nor a comment in it says so`);
        }
      }
    }
    expect(problems).toEqual([]);
  }, 120_000);

  it('JSON blocks parse', () => {
    for (const block of blocks.filter((b) => b.lang === 'json')) {
      expect(() => JSON.parse(block.code)).not.toThrow();
    }
  });

  // Listed so that the run shows what is not checked, and why.
  for (const block of examples.filter((b) => b.fragment)) it.skip(`${where(block)} is a fragment`, () => {});
  for (const block of examples.filter((b) => !b.fragment && missingNeeds(b).length > 0)) {
    it.skip(`${where(block)} needs ${missingNeeds(block).join(', ')}, not installed here`, () => {});
  }
});

// A runnable block that imports @jest/globals is a test file: jest runs it (it needs no Redis,
// or it would say so). Any other is a program: node runs it against fresh nodes.
const isJestTest = (b: MarkdownBlock) => /from '@jest\/globals'/.test(b.code);

for (const block of runnable.filter(isJestTest)) describe(`the example at ${where(block)}`, () => {
  it('passes as a jest test file of its own', async () => {
    const runFile = join(dir, fileName(block).replace(/\.ts$/, '.run.test.ts'));
    await writeFile(runFile, block.code);
    const { tests } = await runJestExample(root, runFile, entries);
    expect(tests).toBeGreaterThan(0);
  }, RUN_TIMEOUT_MS * 2 + 10_000);
});

for (const block of runnable.filter((b) => !isJestTest(b))) describe(`the example at ${where(block)}`, () => {
  it('runs against real redis-server nodes, exits by itself, and leaves no lock behind', async () => {
    const distinct = pointAtNodes(block.code, Array.from({ length: 9 }, (_, i) => `redis://placeholder-${i}`)).distinct;
    expect(distinct).toBeGreaterThan(0);
    const nodes = await startRedisNodes(distinct, { persist: false });
    try {
      const runFile = join(dir, fileName(block).replace(/\.ts$/, '.run.ts'));
      await writeFile(runFile, pointAtNodes(block.code, nodes.urls()).code);
      await runExample(root, runFile, entries);

      const clients = nodes.nodes.map((node) => node.client());
      const heldLocks = await Promise.all(clients.map(async (c) => (await c.keys('lock:*')).filter((k) => !k.startsWith('lock:__redlock__:'))));
      expect(heldLocks.flat()).toEqual([]);
      // The example really locked on these nodes (its addresses were rewritten): they carry the
      // marker every lock node gets on first use.
      const marked = await Promise.all(clients.map((c) => c.exists('lock:__redlock__:marker')));
      expect(marked.some((m) => m === 1)).toBe(true);
    } finally {
      await nodes.stop();
    }
  }, RUN_TIMEOUT_MS + 30_000);
});
