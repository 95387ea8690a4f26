// nestjs-redlock/opentelemetry: OpenTelemetry tracing and metrics for a Redlock. Framework-free;
// needs @opentelemetry/api (an optional peer) only for the tracer and meter the caller passes in.
export { instrumentRedlock } from './instrument-redlock.js';
export type { RedlockInstrumentationOptions } from './instrument-redlock.js';
