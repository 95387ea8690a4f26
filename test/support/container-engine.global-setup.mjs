// jest globalSetup (jest.config.js): once per run, before any worker starts, make sure that the
// tests with Redis in containers (nestjs-redlock/testing's startRedisNodes) can run: a Docker
// engine answers (tools/docker-engine.sh starts dockerd when it is installed and we are root) and
// the Redis image they ask for exists (tools/redis-image.sh builds it from the machine's
// redis-server: no registry is reachable here).
// A globalSetup rather than an npm pretest script: it also runs for `npx jest <file>`, and the
// environment it sets reaches every worker. Plain JavaScript: jest loads a globalSetup outside
// its module mapping, as CommonJS when it is TypeScript.
// If a step fails, it only warns: every other test still runs, and the container tests then fail
// with the reason.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const tools = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools');
// The default of test-container-options.ts and tools/redis-image.sh too.
const DEFAULT_IMAGE = 'nestjs-redlock-test/redis:7';

export default async function ensureContainerEngine() {
  // Ryuk, testcontainers' reaper, is an image of its own that cannot be pulled here; the tests
  // remove their containers themselves (stop() in afterAll / afterEach). Set it to false to use Ryuk.
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  process.env.REDLOCK_TEST_REDIS_IMAGE ??= DEFAULT_IMAGE;
  try {
    await runTool('docker-engine.sh');
    await runTool('redis-image.sh', process.env.REDLOCK_TEST_REDIS_IMAGE);
  } catch (error) {
    const stderr = typeof error?.stderr === 'string' ? error.stderr.trim() : '';
    console.warn(`\nThe tests on Redis containers cannot run: ${stderr || String(error)}\n`);
  }
}

async function runTool(script, ...args) {
  const { stderr } = await run(join(tools, script), args, { timeout: 120_000 });
  // Said only when it did something (started dockerd, built the image).
  if (stderr.trim() !== '') console.log(`\n${stderr.trim()}`);
}
