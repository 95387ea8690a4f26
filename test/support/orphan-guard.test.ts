import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { transformFile } from '@swc/core';

/**
 * The guard only matters when a process dies without running its clean-up, so it is tested in a
 * separate Node process: the guard compiled to plain JS, guarding a `sleep` child.
 */
let dir: string;

const HOST_SCRIPT = `
import { spawn } from 'node:child_process';
import { guardChild } from './orphan-guard.mjs';
const child = spawn('sleep', ['30'], { stdio: 'ignore' });
guardChild(child);
child.unref();
process.stdout.write(child.pid + '\\n');
if (process.argv[2] === 'exit') setTimeout(() => process.exit(3), 20);
else setInterval(() => {}, 1000);
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orphan-guard-'));
  const { code } = await transformFile(new URL('./orphan-guard.ts', import.meta.url).pathname, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'es6' },
  });
  await writeFile(join(dir, 'orphan-guard.mjs'), code);
  await writeFile(join(dir, 'host.mjs'), HOST_SCRIPT);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Running, as opposed to gone or a zombie. An orphan is re-parented to PID 1, which may reap it
 * only much later (about a second on these VMs), and signal 0 still succeeds on a zombie.
 */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Runs the host; `act` gets its pid and the guarded child's pid once both run. */
async function runHost(
  mode: 'exit' | 'wait',
  act: (hostPid: number) => void,
): Promise<{ childPid: number; code: number | null; signal: NodeJS.Signals | null }> {
  const host = spawn(process.execPath, [join(dir, 'host.mjs'), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    host.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const childPid = await new Promise<number>((resolve, reject) => {
    host.stdout?.once('data', (line: Buffer) => resolve(Number(line.toString().trim())));
    host.once('error', reject);
  });
  expect(alive(childPid)).toBe(true);
  act(host.pid!);
  return { childPid, ...(await exited) };
}

/** SIGKILL takes effect asynchronously: allow the child a moment to die. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(10);
  return !alive(pid);
}

describe('guardChild', () => {
  it('kills the child when the host process exits without cleaning up', async () => {
    const { childPid, code } = await runHost('exit', () => {});
    expect(code).toBe(3);
    expect(await gone(childPid)).toBe(true);
  });

  it('kills the child on SIGTERM and still lets the host die of the signal', async () => {
    const { childPid, signal } = await runHost('wait', (hostPid) => process.kill(hostPid, 'SIGTERM'));
    expect(signal).toBe('SIGTERM');
    expect(await gone(childPid)).toBe(true);
  });
});
