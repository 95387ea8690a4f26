import 'reflect-metadata';
import type { DynamicModule } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { RedlockTestingControls, RedlockTestingModule } from '../../lib/testing/index.js';
import { describeLockBehaviour } from './lock-behaviour.js';
import type { LockWorld, WorldParts } from './lock-behaviour.js';

// The behaviour suite on RedlockTestingModule: no Redis anywhere, the same tests as on-redis.test.ts,
// once with forRoot and once with forRootAsync (which must give the same module).
const inMemoryWorld = (moduleFor: (options: WorldParts['options']) => DynamicModule) => async ({ controllers, providers, options }: WorldParts): Promise<LockWorld> => {
  const ref = await Test.createTestingModule({
    imports: [moduleFor(options)],
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
};

describeLockBehaviour('RedlockTestingModule.forRoot (in-process, no Redis)', inMemoryWorld((options) => RedlockTestingModule.forRoot(options)));
describeLockBehaviour(
  'RedlockTestingModule.forRootAsync (in-process, no Redis)',
  inMemoryWorld((options) => RedlockTestingModule.forRootAsync({ useFactory: async () => ({ nodes: 3, ...options }) })),
);
