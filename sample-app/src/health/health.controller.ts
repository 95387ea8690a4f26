import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { RedlockService } from '../../../lib/index.js';
import type { HealthReport } from './health-report.js';
import { pingNode } from './node-ping.js';

/**
 * GET /health: each lock node up or down with its PING latency. 200 while a majority answers
 * (locks still work, maybe degraded), 503 once it does not, so a load balancer stops sending
 * requests that could only fail.
 */
@Controller('health')
export class HealthController {
  constructor(private readonly locks: RedlockService) {}

  @Get()
  async check(): Promise<HealthReport> {
    const clients = this.locks.redlock.clients;
    const nodes = await Promise.all(clients.map((client, index) => pingNode(client, index)));
    const up = nodes.filter((node) => node.status === 'up').length;
    // Redlock's rule: a lock needs a strict majority of the nodes.
    const quorum = Math.floor(clients.length / 2) + 1;
    const status = up === clients.length ? 'ok' : up >= quorum ? 'degraded' : 'down';
    const report: HealthReport = { status, quorum, nodes };
    if (status === 'down') throw new ServiceUnavailableException(report);
    return report;
  }
}
