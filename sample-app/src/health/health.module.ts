import { Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';

/** RedlockService comes from the global RedlockModule. */
@Module({ controllers: [HealthController] })
export class HealthModule {}
