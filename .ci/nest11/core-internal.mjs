// NestJS 12 gathers internals under '@nestjs/core/internal'; NestJS 11 has no such entry and keeps
// them at their own paths. jest.nest11.config.js maps '@nestjs/core/internal' here, so tests written
// against 12 load under 11 too. Only what the tests use; the library itself never imports internals.
export { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
