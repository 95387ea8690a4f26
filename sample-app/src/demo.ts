import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { checkBalances, type BalanceCheck } from './demo/balance-check.js';
import { payConcurrently, type BatchResult } from './demo/payment-batch.js';
import { runStockDemo } from './demo/stock-demo.js';
import { textTable } from './demo/text-table.js';
import type { HealthReport } from './health/health-report.js';
import { LocalRedis } from './local/local-redis.js';
import { onTerminationSignal } from './local/termination-signals.js';
import { OrdersRepository } from './orders/orders.repository.js';
import { StockDatabase } from './stock/stock-database.js';
import { StockRepository } from './stock/stock.repository.js';

const PAYMENTS = 50;
const AMOUNT_CENTS = 100;
/** Which lock node dies, and after how many responses of the first batch. */
const NODE_TO_KILL = 2;
const KILL_AFTER_RESPONSES = PAYMENTS / 2;

/**
 * `npm run demo`: the shop under load on real Redis nodes. Fires 50 concurrent payments at one
 * order and 50 at 50 different orders, kills a lock node midway, then checks that the data
 * store holds exactly the payments that were answered 2xx; then reserves stock in a SQL table
 * under a fenced lock (PGlite unless DATABASE_URL is set) and checks that nothing was oversold
 * and that a write with an older fence is refused. Exit status 0 only if all of it holds.
 */
let interrupted = false;

async function demo(): Promise<boolean> {
  let local: LocalRedis | undefined;
  let app: INestApplication | undefined;
  let closing: Promise<void> | undefined;
  // Once, in this order: the app releases its locks on the nodes before they are killed.
  const closeAll = (): Promise<void> =>
    (closing ??= (async () => {
      await app?.close();
      await local?.stop();
    })());
  // Ctrl-C: close everything, then the handler ends the process with the signal's status.
  const removeSignalHandlers = onTerminationSignal(async (signal) => {
    interrupted = true;
    console.log(`\n${signal}: closing the shop and removing the local Redis nodes...`);
    await closeAll();
  });
  try {
    // Without REDIS_URLS: throwaway redis-server processes, removed however the demo ends.
    if (!process.env.REDIS_URLS) local = await LocalRedis.start(3);
    if (local) {
      process.env.REDIS_URLS = local.env.REDIS_URLS;
      process.env.DATA_REDIS_URL ??= local.env.DATA_REDIS_URL;
    }
    app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
    // Open the stock database (PGlite loads for seconds) before any request: HTTP keep-alive
    // connections left idle that long are closed by the server under the client's feet.
    await app.get(StockDatabase).database();
    await app.listen(0, '127.0.0.1');
    const url = await app.getUrl();
    const lockUrls = (process.env.REDIS_URLS ?? '').split(',');
    console.log(`\nnestjs-redlock demo: ${lockUrls.length} lock nodes ${local ? '(local redis-server)' : '(REDIS_URLS)'}, data store ${process.env.DATA_REDIS_URL}`);
    console.log(`shop on ${url}; a payment reads the order, pauses, and writes it back under the lock "order:<id>"\n`);

    const orders = app.get(OrdersRepository);
    const sameOrder = 'demo-one';
    const manyOrders = Array.from({ length: PAYMENTS }, (_, i) => `demo-${i + 1}`);
    await Promise.all([sameOrder, ...manyOrders].map((id) => orders.open(id)));

    let killNote = local ? '' : 'REDIS_URLS is set: the demo does not kill nodes it did not start.';
    const oneOrder = await payConcurrently(url, `${PAYMENTS} payments, 1 order`, Array(PAYMENTS).fill(sameOrder), {
      amountCents: AMOUNT_CENTS,
      onResponse: async (done) => {
        if (local === undefined || done !== KILL_AFTER_RESPONSES) return;
        const node = local.lockNodes.nodes[NODE_TO_KILL]!;
        await node.kill();
        killNote = `Lock node #${NODE_TO_KILL} (${node.url}) was killed after ${done} of the ${PAYMENTS} responses of the first batch.`;
      },
    });
    if (interrupted) return false;
    const spread = await payConcurrently(url, `${PAYMENTS} payments, ${PAYMENTS} orders`, manyOrders, {
      amountCents: AMOUNT_CENTS,
    });

    const checks = [
      await checkBalances(orders, oneOrder.paidByOrder, AMOUNT_CENTS),
      await checkBalances(orders, spread.paidByOrder, AMOUNT_CENTS),
    ];
    printBatches([oneOrder, spread], checks);
    const speedup = oneOrder.elapsedMs / Math.max(spread.elapsedMs, 1);
    console.log(`\nOne order: payments took turns. ${PAYMENTS} orders: side by side, ${speedup.toFixed(0)}x faster.`);
    if (killNote) console.log(`\n${killNote}`);
    if (interrupted) return false;
    const stock = await runStockDemo(url, app.get(StockRepository), app.get(StockDatabase));
    console.log(`\n${stock.lines.join('\n')}`);
    printHealth(await (await fetch(`${url}/health`)).json() as HealthReport);

    const mismatches = checks.flatMap((check) => check.mismatches);
    if (!stock.correct) {
      console.log('\nSTOCK WRONG: see the stock lines above.\n');
      return false;
    }
    if (mismatches.length === 0) {
      console.log('\nBalances correct: the data store holds exactly the payments that were answered 2xx.\n');
      return true;
    }
    console.log(`\nBALANCES WRONG (${mismatches.length} order(s)):\n  ${mismatches.join('\n  ')}\n`);
    return false;
  } finally {
    removeSignalHandlers();
    await closeAll();
  }
}

function printBatches(batches: readonly BatchResult[], checks: readonly BalanceCheck[]): void {
  const rows = batches.map((batch, i) => {
    const check = checks[i]!;
    return [
      batch.label,
      String(batch.requests),
      String(batch.served),
      String(batch.conflicts),
      String(batch.unavailable),
      String(batch.other),
      `${(batch.elapsedMs / 1000).toFixed(2)} s`,
      `${check.storedPayments} stored / ${check.expectedPayments} paid ${check.mismatches.length === 0 ? 'OK' : 'WRONG'}`,
    ];
  });
  console.log(
    textTable(
      [
        { title: 'batch' },
        { title: 'requests', align: 'right' },
        { title: 'served', align: 'right' },
        { title: '409', align: 'right' },
        { title: '503', align: 'right' },
        { title: 'other', align: 'right' },
        { title: 'time', align: 'right' },
        { title: 'balances (data store vs 2xx)' },
      ],
      rows,
    ),
  );
}

function printHealth(report: HealthReport): void {
  const { quorum, nodes } = report.details.locks;
  console.log(`\nGET /health: ${report.status} (a lock needs ${quorum} of ${nodes.length} nodes)`);
  console.log(
    textTable(
      [{ title: 'node', align: 'right' }, { title: 'address' }, { title: 'status' }, { title: 'latency', align: 'right' }],
      nodes.map((node) => [
        `#${node.node}`,
        node.address,
        node.status,
        node.latencyMs === null ? '-' : `${node.latencyMs.toFixed(1)} ms`,
      ]),
    ),
  );
}

demo().then(
  (correct) => {
    // When interrupted, the signal handler ends the process once the cleanup is done.
    if (!interrupted) process.exit(correct ? 0 : 1);
  },
  (error: unknown) => {
    if (interrupted) return;
    console.error('demo failed:', error);
    process.exit(2);
  },
);
