import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { RedlockHealthIndicator } from '../../../lib/terminus/index.js';
import { HealthController } from './health.controller.js';

/** The indicator injects the Redlock of the global RedlockModule. */
@Module({ imports: [TerminusModule], controllers: [HealthController], providers: [RedlockHealthIndicator] })
export class HealthModule {}
