import { execFile } from 'node:child_process';
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
