import { Module } from '@nestjs/common';
import { StockController } from './stock.controller.js';
import { StockDatabase } from './stock-database.js';
import { StockRepository } from './stock.repository.js';
import { StockService } from './stock.service.js';

/** Stock in a SQL table, each write fenced (PostgreSQL via DATABASE_URL, else embedded PGlite). */
@Module({
  controllers: [StockController],
  providers: [StockDatabase, StockRepository, StockService],
  exports: [StockRepository, StockService],
})
export class StockModule {}
