/** Helpers shared by the transport tests (not a test file itself). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One run of a locked handler's critical section, on this process's performance.now() clock. */
export interface Section {
  key: string;
  enteredAt: number;
  leftAt: number;
}

/**
 * The critical section every transport's 'pay' handler runs: read the balance, pause, write it
 * back plus one. Without mutual exclusion concurrent calls lose updates. Records the section.
 */
export async function payOnce(store: { get(key: string): Promise<string | null>; set(key: string, value: number): Promise<unknown> }, id: string, sections: Section[]): Promise<number> {
  const enteredAt = performance.now();
  const before = Number((await store.get(`balance:${id}`)) ?? 0);
  await sleep(10);
  await store.set(`balance:${id}`, before + 1);
  sections.push({ key: id, enteredAt, leftAt: performance.now() });
  return before + 1;
}

/** Pairs of sections of one key that were inside at the same time; [] when they were serialized. */
export function findSectionOverlaps(sections: readonly Section[]): [Section, Section][] {
  const overlaps: [Section, Section][] = [];
  const sorted = [...sections].sort((a, b) => a.enteredAt - b.enteredAt);
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && sorted[j]!.enteredAt < sorted[i]!.leftAt; j++) {
      if (sorted[j]!.key === sorted[i]!.key) overlaps.push([sorted[i]!, sorted[j]!]);
    }
  }
  return overlaps;
}

/**
 * The version of `name` that this run loads (resolved the way the tests' own imports are, so under
 * jest.nest11.config.js an '@nestjs/...' name is found in .ci/nest11), and the exact version the
 * run's install pins (the root package.json, or .ci/nest11's for the NestJS 11 leg).
 */
export function versions(name: string): { loaded: string; pinned: string | undefined } {
  let dir = dirname(fileURLToPath(import.meta.resolve(name)));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string };
      if (manifest.name === name) return { loaded: manifest.version, pinned: pins()[name] };
    }
    if (dirname(dir) === dir) throw new Error(`no package.json of ${name} above ${dir}`);
    dir = dirname(dir);
  }
}

function pins(): Record<string, string> {
  const install = (globalThis as { NEST_INSTALL?: string }).NEST_INSTALL ?? '.';
  const manifest = JSON.parse(readFileSync(fileURLToPath(new URL(`../../../${install}/package.json`, import.meta.url)), 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  return { ...manifest.devDependencies, ...manifest.dependencies };
}
