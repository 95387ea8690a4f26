import type { Socket } from 'node:net';
import type { LockScript } from './lock-script.js';
import type { BatchedCall, ScriptBatch } from './script-batch.js';

/** Calls one batch carries at most (a node runs a batch as one step: long ones would hold it up). */
const MAX_BATCH = 64;

interface QueuedCall extends BatchedCall {
  resolve(reply: unknown): void;
  reject(error: unknown): void;
}

/**
 * The calls a node gets in one turn of the event loop, sent together on the next tick, in the
 * order they were made: runs of calls the batch carries go as one EVALSHA each (script-batch.ts),
 * anything else alone, all of it in one socket write (the socket is corked while they are
 * written). Under load one write and one command per call were the largest costs of a cycle, for
 * the client and for the node it wakes; a lone call waits for nothing that matters (the next
 * tick comes before any I/O is polled). Sending a turn's first call at once instead cost 5-8 %
 * of the throughput in the bench (0.75 requests per acquire+release instead of 0.16).
 *
 * Commands of others on the same client made in the same turn go ahead of the queued calls: a
 * release must be awaited before its client is closed (README).
 */
export class TurnQueue {
  private queued: QueuedCall[] = [];

  constructor(
    private readonly batch: ScriptBatch | undefined,
    /** Send one script call (EVALSHA with its NOSCRIPT fallback). */
    private readonly send: (script: LockScript, keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>,
    /** The connection's socket right now (ioredis replaces it when it reconnects). */
    private readonly socket: () => Socket | undefined,
    /** Keys many calls end with (the node's guard keys): a batch sends them once. */
    private readonly sharedTail: readonly string[] = [],
  ) {}

  call(script: LockScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.queued.push({ script, keys, args, resolve, reject }) === 1) process.nextTick(() => this.flush());
    });
  }

  private flush(): void {
    const calls = this.queued;
    this.queued = [];
    const socket = calls.length > 1 ? this.socket() : undefined;
    const cork = socket !== undefined && typeof socket.cork === 'function';
    if (cork) socket.cork();
    try {
      for (let from = 0; from < calls.length; ) {
        let to = from;
        while (to < calls.length && to - from < MAX_BATCH && this.batch?.carries(calls[to]!.script)) to += 1;
        if (to - from >= 2) {
          this.sendBatch(calls.slice(from, to));
          from = to;
        } else {
          const call = calls[from]!;
          this.send(call.script, call.keys, call.args).then(call.resolve, call.reject);
          from += 1;
        }
      }
    } finally {
      if (cork) socket.uncork();
    }
  }

  private sendBatch(calls: readonly QueuedCall[]): void {
    const batch = this.batch!;
    const { keys, args } = batch.layout(calls, this.sharedTail);
    this.send(batch.script, keys, args).then(
      (reply) => {
        const answers = batch.answers(reply, calls.length);
        calls.forEach((call, index) => {
          const answer = answers[index];
          if (answer instanceof Error) call.reject(answer);
          else call.resolve(answer);
        });
      },
      (error: unknown) => {
        for (const call of calls) call.reject(error);
      },
    );
  }
}
