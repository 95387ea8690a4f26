import type { TestcontainersModule } from './load-testcontainers.js';

/**
 * Before any node: a Docker engine that answers, and Ryuk (testcontainers' reaper, which removes
 * a test run's containers if the process dies) when it is on. Both fail here with what to do,
 * rather than later inside the first node's start, where a Ryuk image that cannot be pulled
 * would read like the Redis image's fault.
 */
export async function checkContainerRuntime(tc: TestcontainersModule): Promise<void> {
  let client: Awaited<ReturnType<TestcontainersModule['getContainerRuntimeClient']>>;
  try {
    client = await tc.getContainerRuntimeClient();
  } catch (error) {
    throw new Error(`startRedisNodes: no Docker engine answers (is dockerd running? DOCKER_HOST?): ${messageOf(error)}`, { cause: error });
  }
  try {
    await tc.getReaper(client);
  } catch (error) {
    throw new Error(
      `startRedisNodes: Ryuk, testcontainers' reaper, did not start: ${messageOf(error)} ` +
        '(where its image cannot be pulled, set TESTCONTAINERS_RYUK_DISABLED=true, and stop() your nodes also when a test fails)',
      { cause: error },
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
