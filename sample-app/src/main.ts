import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { LocalRedis } from './local/local-redis.js';
import { onTerminationSignal } from './local/termination-signals.js';

/**
 * `nest start`: the shop on PORT (default 3000). Without REDIS_URLS it runs on throwaway local
 * redis-server processes (3 lock nodes + 1 data node) and removes them when it shuts down.
 */
async function bootstrap(): Promise<void> {
  const logger = new Logger('Shop');
  const local = process.env.REDIS_URLS ? undefined : await LocalRedis.start(3);
  if (local) {
    process.env.REDIS_URLS = local.env.REDIS_URLS;
    process.env.DATA_REDIS_URL ??= local.env.DATA_REDIS_URL;
    logger.log(`REDIS_URLS not set: started local lock nodes ${local.lockUrls.join(', ')} and data node ${local.dataUrl}`);
  }
  try {
    const app = await NestFactory.create(AppModule);
    // Signals run the shutdown hooks: held locks are released and connections closed.
    app.enableShutdownHooks();
    // The lock nodes must outlive the app's own shutdown (it releases its locks on them).
    if (local) onTerminationSignal(async () => {
      await app.close();
      await local.stop();
    });
    await app.listen(Number(process.env.PORT ?? 3000));
    logger.log(`listening on ${await app.getUrl()}`);
  } catch (error) {
    await local?.stop();
    throw error;
  }
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
