/**
 * The image the container tests run: built locally by tools/redis-image.sh from Debian's
 * redis-server (container-engine.global-setup.mjs sees to it), under a name of its own rather
 * than `redis:7`, so that a machine that can pull keeps the official redis:7 as it is.
 * REDLOCK_TEST_REDIS_IMAGE=redis:7 runs the same tests on the official image.
 */
export const TEST_REDIS_IMAGE = process.env.REDLOCK_TEST_REDIS_IMAGE ?? 'nestjs-redlock-test/redis:7';
