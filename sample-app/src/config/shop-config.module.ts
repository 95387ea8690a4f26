import { Global, Module } from '@nestjs/common';
import { ShopConfig } from './shop-config.js';

/** Global, so the Redlock factory and every feature module can inject ShopConfig. */
@Global()
@Module({
  providers: [{ provide: ShopConfig, useFactory: () => ShopConfig.fromEnv() }],
  exports: [ShopConfig],
})
export class ShopConfigModule {}
