import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { RedlockHealthIndicator } from '../../../lib/terminus/index.js';

/**
 * GET /health: each lock node up or down with its PING latency, through Terminus. 200 while a
 * quorum answers (locks still work, maybe degraded), 503 once it does not, so a load balancer
 * stops sending requests that could only fail.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly locks: RedlockHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.locks.isHealthy('locks')]);
  }
}
