import type { StartRedisNodesOptions } from '../../lib/testing/index.js';

/**
 * The image the container tests run: built locally by tools/redis-image.sh from Debian's
 * redis-server (container-engine.global-setup.mjs sees to it), under a name of its own rather
 * than `redis:7`, so that a machine that can pull keeps the official redis:7 as it is.
 * REDLOCK_TEST_REDIS_IMAGE=redis:7 runs the same tests on the official image.
 */
export const TEST_REDIS_IMAGE = process.env.REDLOCK_TEST_REDIS_IMAGE ?? 'nestjs-redlock-test/redis:7';

/** Labelled with the run (REDLOCK_TEST_RUN, set by .ci/run), so that a run can check it left no container behind. */
export const TEST_RUN_LABEL = 'nestjs-redlock.test-run';

/** What every test passes to startRedisNodes. */
export const TEST_CONTAINER_OPTIONS: StartRedisNodesOptions = {
  image: TEST_REDIS_IMAGE,
  labels: { [TEST_RUN_LABEL]: process.env.REDLOCK_TEST_RUN ?? 'local' },
};
