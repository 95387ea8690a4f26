import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** How long a runnable example may take, start-up of the TypeScript hooks included. */
export const RUN_TIMEOUT_MS = 30_000;

/**
 * The documented hook of `<!-- example: runs -->`: the README's node addresses
 * (`redis://10.0.0.1:6379`, ...) are placeholders, and the i-th distinct `redis://` URL of the
 * block becomes the i-th URL of the test's nodes. Nothing else in the example is changed.
 */
export function pointAtNodes(code: string, urls: readonly string[]): { code: string; distinct: number } {
  const seen = new Map<string, string>();
  const rewritten = code.replace(/redis:\/\/[^\s'"`,)]+/g, (url) => {
    if (!seen.has(url)) {
      if (seen.size >= urls.length) throw new Error(`the example uses more than ${urls.length} distinct redis:// URLs`);
      seen.set(url, urls[seen.size]);
    }
    return seen.get(url)!;
  });
  return { code: rewritten, distinct: seen.size };
}

/**
 * Runs one example file in a child `node`, as a program of its own. It must exit by itself with
 * status 0 (so it closes what it opened) within RUN_TIMEOUT_MS; otherwise this rejects with the
 * exit status and the child's output.
 */
export async function runExample(root: string, file: string, entries: Readonly<Record<string, string>>): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(process.execPath, ['--no-warnings', '--import', './test/readme/example-register.mjs', file], {
      cwd: root,
      timeout: RUN_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      env: { ...process.env, NODE_OPTIONS: '', README_EXAMPLE_ENTRY_POINTS: JSON.stringify(entries) },
    });
  } catch (error) {
    const e = error as { code?: number | string; signal?: string; killed?: boolean; stdout?: string; stderr?: string };
    const why = e.killed ? `did not exit within ${RUN_TIMEOUT_MS} ms (something left open?)` : `exited with ${e.code ?? e.signal}`;
    throw new Error(`${why}\n--- stdout\n${e.stdout ?? ''}\n--- stderr\n${e.stderr ?? ''}`, { cause: error });
  }
}

/**
 * Runs one example that is a jest test file (it imports `@jest/globals`) in a child jest, the way
 * the reader's own jest would: swc for TypeScript, `nestjs-redlock/...` mapped to lib/. It must
 * run at least one test and pass them all.
 */
export async function runJestExample(root: string, file: string, entries: Readonly<Record<string, string>>): Promise<{ tests: number }> {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const config = {
    rootDir: dirname(file),
    testEnvironment: 'node',
    extensionsToTreatAsEsm: ['.ts'],
    transform: { '^.+\\.ts$': '@swc/jest' },
    moduleNameMapper: {
      ...Object.fromEntries(Object.entries(entries).map(([name, source]) => [`^${escape(name)}$`, source])),
      '^(\\.{1,2}/.*)\\.js$': '$1',
    },
    testTimeout: 20_000,
  };
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(process.execPath, [join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--config', JSON.stringify(config), '--json', '--runTestsByPath', file], {
      cwd: root, // where @swc/jest finds the project's .swcrc (decorators with metadata)
      timeout: RUN_TIMEOUT_MS * 2,
      killSignal: 'SIGKILL',
      env: { ...process.env, NODE_OPTIONS: '--experimental-vm-modules --no-warnings' },
    }));
  } catch (error) {
    const e = error as { code?: number | string; signal?: string; killed?: boolean; stdout?: string; stderr?: string };
    const why = e.killed ? `jest did not exit within ${RUN_TIMEOUT_MS * 2} ms` : `jest exited with ${e.code ?? e.signal}`;
    throw new Error(`${why}\n--- stderr\n${e.stderr ?? ''}`, { cause: error });
  }
  const report = JSON.parse(stdout) as { success: boolean; numTotalTests: number; numFailedTests: number };
  if (!report.success || report.numFailedTests > 0 || report.numTotalTests === 0) {
    throw new Error(`jest: ${report.numFailedTests} of ${report.numTotalTests} tests failed`);
  }
  return { tests: report.numTotalTests };
}
