import { BadRequestException } from '@nestjs/common';

/** One row of the stock table. */
export interface Stock {
  readonly sku: string;
  readonly quantity: number;
  /** The fence of the lock holder that last wrote the row. */
  readonly fence: number;
}

/** A whole number in [min, max] from a request body, or a 400 (no validation pipe for two fields). */
export function wholeNumberOf(body: unknown, field: string, min: number, fallback?: number): number {
  const value = (body as Record<string, unknown> | undefined)?.[field] ?? fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > 2 ** 31 - 1) {
    throw new BadRequestException(`${field} must be a whole number of at least ${min}`);
  }
  return value;
}
