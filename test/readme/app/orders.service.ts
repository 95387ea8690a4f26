// Stand-in for the reader's own orders service, imported by README examples (see your-code.ts).
import { Injectable } from '@nestjs/common';

export interface Order {
  readonly id: string;
}

export class PayDto {
  amount!: number;
}

@Injectable()
export class OrdersService {
  async pay(id: string, amount: number): Promise<{ id: string; paid: number }> {
    return { id, paid: amount };
  }
}
