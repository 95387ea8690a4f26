// nestjs-redlock/terminus: the health indicator for @nestjs/terminus (an optional peer). A separate
// entry so that `nestjs-redlock` itself never loads Terminus.
export { RedlockHealthIndicator } from './redlock-health.indicator.js';
export type { RedlockHealthDetails, RedlockHealthOptions } from './redlock-health.indicator.js';
export type { NodeHealth } from './node-ping.js';
