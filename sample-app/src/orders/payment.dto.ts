import { BadRequestException } from '@nestjs/common';

/** Body of a payment; the amount defaults to one euro. */
export interface PaymentDto {
  amountCents?: unknown;
}

export const DEFAULT_AMOUNT_CENTS = 100;

/** The amount to pay, or a 400 (no validation pipe dependency for one field). */
export function amountOf(body: PaymentDto | undefined): number {
  const amount = body?.amountCents ?? DEFAULT_AMOUNT_CENTS;
  if (typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0) {
    throw new BadRequestException('amountCents must be a positive whole number of cents');
  }
  return amount;
}
