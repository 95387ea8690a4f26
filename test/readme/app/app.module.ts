// Stand-in for the reader's AppModule (see your-code.ts), as in the README's quick start.
import { Module } from '@nestjs/common';
import { RedlockModule } from '../../../lib/index.js';
import { OrdersController } from './orders.controller.js';
import { OrdersService } from './orders.service.js';

@Module({
  imports: [RedlockModule.forRoot({ nodes: ['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379', 'redis://10.0.0.3:6379'] })],
  controllers: [OrdersController],
  providers: [OrdersService],
})
export class AppModule {}
