import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { RedlockTestingControls, RedlockTestingModule } from '../../lib/testing/index.js';
import { describeLockBehaviour } from './lock-behaviour.js';
import type { LockWorld, WorldParts } from './lock-behaviour.js';

// The behaviour suite on RedlockTestingModule: no Redis anywhere, the same tests as on-redis.test.ts.
async function inMemoryWorld({ controllers, providers, options }: WorldParts): Promise<LockWorld> {
  const ref = await Test.createTestingModule({
    imports: [RedlockTestingModule.forRoot(options)],
    controllers,
    providers,
  }).compile();
  const app = ref.createNestApplication({ logger: false });
  await app.init();
  const controls = app.get(RedlockTestingControls);
  return {
    app,
    async holdElsewhere(resources, options) {
      const hold = controls.hold(resources, options);
      return { fence: hold.fence, release: async () => hold.release() };
    },
    async nodesDown() {
      controls.nodesDown(2);
    },
    async nodesUp() {
      controls.nodesUp();
    },
    async close() {
      await app.close();
    },
  };
}

describeLockBehaviour('RedlockTestingModule (in-process, no Redis)', inMemoryWorld);
