import type { HealthCheckStatus } from '@nestjs/terminus';
import type { RedlockHealthDetails } from '../../../lib/terminus/index.js';

/** The body of GET /health: Terminus's health check result, with the lock nodes under `locks`. */
export interface HealthReport {
  /** ok: every node up; degraded: some down but a quorum up (locks still work); error: no quorum (503). */
  readonly status: HealthCheckStatus;
  readonly details: {
    readonly locks: RedlockHealthDetails & { readonly status: 'up' | 'degraded' | 'down' };
  };
}
