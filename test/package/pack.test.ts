import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// Builds the package, packs it as npm would publish it, and loads the tarball from an ESM and a
// CommonJS consumer, the way users' apps will (CommonJS through Node's require(esm)).
const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const peers = ['ioredis', '@nestjs/common', '@nestjs/core', 'reflect-metadata', 'rxjs'];

let work: string;
let consumer: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'nestjs-redlock-pack-'));
  await run('npm', ['run', 'build'], { cwd: root });
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', work], { cwd: root });
  const tarball = join(work, stdout.trim().split('\n').pop()!);
  consumer = join(work, 'consumer');
  const installed = join(consumer, 'node_modules', 'nestjs-redlock');
  await mkdir(installed, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  // Peers come from this repository's own install (no registry access needed).
  for (const peer of peers) {
    const target = join(consumer, 'node_modules', peer);
    await mkdir(join(target, '..'), { recursive: true });
    await symlink(join(root, 'node_modules', peer), target);
  }
  await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const probe = (load: string) => `
${load}
const report = {
  core: Object.keys(core).sort(),
  main: Object.keys(main).sort(),
  redlock: typeof core.Redlock,
  same: main.Redlock === core.Redlock,
};
console.log(JSON.stringify(report));
`;

async function consume(file: string, source: string): Promise<{ core: string[]; main: string[]; redlock: string; same: boolean }> {
  await writeFile(join(consumer, file), source);
  const { stdout } = await run(process.execPath, ['--no-warnings', file], { cwd: consumer });
  return JSON.parse(stdout);
}

describe('the packed tarball', () => {
  it('contains dist with types and no sources or tests', async () => {
    const { stdout } = await run('tar', ['-tzf', join(work, (await run('ls', [work])).stdout.split('\n').find((f) => f.endsWith('.tgz'))!)]);
    const files = stdout.split('\n');
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/dist/core/index.js');
    expect(files).toContain('package/dist/core/index.d.ts');
    expect(files).toContain('package/dist/testing/index.js');
    expect(files).toContain('package/dist/testing/index.d.ts');
    expect(files.some((f) => f.startsWith('package/lib/') || f.startsWith('package/test/'))).toBe(false);
  });

  it('imports cleanly from an ESM consumer', async () => {
    const report = await consume(
      'esm.mjs',
      probe(`import 'reflect-metadata';\nimport * as core from 'nestjs-redlock/core';\nimport * as main from 'nestjs-redlock';`),
    );
    expect(report.redlock).toBe('function');
    expect(report.same).toBe(true);
    expect(report.core).toEqual(expect.arrayContaining(['Redlock', 'LockBusyError', 'QuorumUnavailableError', 'LockLostError', 'RedlockConfigError', 'LockAbortedError', 'RedlockError']));
    expect(report.main).toEqual(expect.arrayContaining(['Redlock', 'RedlockModule', 'RedlockService', 'Locked', 'LockedInterceptor', 'LockConflictException', 'LockUnavailableException']));
  });

  it('loads nestjs-redlock/testing from ESM and CommonJS consumers', async () => {
    const names = async (file: string, load: string) => {
      await writeFile(join(consumer, file), `${load}\nconsole.log(JSON.stringify(Object.keys(testing).sort()));`);
      return JSON.parse((await run(process.execPath, ['--no-warnings', file], { cwd: consumer })).stdout) as string[];
    };
    const expected = expect.arrayContaining(['RedlockTestingModule', 'RedlockTestingControls', 'InMemoryRedlock']);
    expect(await names('testing.mjs', `import 'reflect-metadata';\nimport * as testing from 'nestjs-redlock/testing';`)).toEqual(expected);
    expect(await names('testing.cjs', `require('reflect-metadata');\nconst testing = require('nestjs-redlock/testing');`)).toEqual(expected);
  });

  it('requires cleanly from a CommonJS consumer', async () => {
    const report = await consume(
      'cjs.cjs',
      probe(`require('reflect-metadata');\nconst core = require('nestjs-redlock/core');\nconst main = require('nestjs-redlock');`),
    );
    expect(report.redlock).toBe('function');
    expect(report.same).toBe(true);
    expect(report.main).toEqual(expect.arrayContaining(['Redlock', 'RedlockModule', 'Locked']));
  });
});
