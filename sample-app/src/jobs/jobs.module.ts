import { Module } from '@nestjs/common';
import { OrdersModule } from '../orders/orders.module.js';
import { CleanupJob } from './cleanup.job.js';

@Module({ imports: [OrdersModule], providers: [CleanupJob], exports: [CleanupJob] })
export class JobsModule {}
