import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { RedlockModule } from '../../lib/index.js';
import { ShopConfig } from './config/shop-config.js';
import { ShopConfigModule } from './config/shop-config.module.js';
import { DataStoreModule } from './data/data-store.module.js';
import { HealthModule } from './health/health.module.js';
import { JobsModule } from './jobs/jobs.module.js';
import { OrdersModule } from './orders/orders.module.js';
import { StockModule } from './stock/stock.module.js';

@Module({
  imports: [
    ShopConfigModule,
    DataStoreModule,
    // Async, because the lock nodes come from configuration (REDIS_URLS) resolved by DI.
    RedlockModule.forRootAsync({
      imports: [ShopConfigModule],
      inject: [ShopConfig],
      useFactory: (config: ShopConfig) => ({ nodes: [...config.lockNodeUrls] }),
    }),
    ScheduleModule.forRoot(),
    OrdersModule,
    StockModule,
    JobsModule,
    HealthModule,
  ],
})
export class AppModule {}
