// testcontainers is an optional peer: only startRedisNodes needs it, so it is imported when that
// is called, and nestjs-redlock/testing still loads (RedlockTestingModule, InMemoryRedlock) for
// users who never installed it. Only types come in statically, and they stay out of the public
// declarations.
import type * as Testcontainers from 'testcontainers';

export type TestcontainersModule = typeof Testcontainers;

const INSTALL_HINT =
  'startRedisNodes runs Redis in containers with the testcontainers package, which is not installed: ' +
  '`npm install --save-dev testcontainers@11` (Node 20 or newer; testcontainers 12 needs Node 22), and a Docker engine';

let loading: Promise<TestcontainersModule> | undefined;

export function loadTestcontainers(): Promise<TestcontainersModule> {
  loading ??= import('testcontainers').catch((error: unknown) => {
    loading = undefined;
    throw isMissing(error) ? new Error(INSTALL_HINT, { cause: error }) : error;
  });
  return loading;
}

/** The package itself is missing, not something it imports in turn. */
function isMissing(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && typeof message === 'string' && /'testcontainers'/.test(message);
}
