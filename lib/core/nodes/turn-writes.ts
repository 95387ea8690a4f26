import type { Socket } from 'node:net';

/** Sockets corked until the end of the current turn of the event loop. */
const corked = new WeakSet<Socket>();

/**
 * Let every command written to this socket during the current turn of the event loop leave in
 * one write. Under load many locks talk to the same node in the same turn (replies arrive in
 * batches, and each one starts the next step of its call): one syscall per command was the
 * largest cost of the whole cycle, for the client and for the node it wakes. A lone command
 * pays nothing that matters: the socket is uncorked on the next tick, before any I/O is polled.
 *
 * Works on any writable socket (an ioredis client's `stream`, whoever else writes to it: their
 * commands are held for the same tick, no longer); anything without cork() is left alone.
 */
export function coalesceWritesThisTurn(stream: Socket | undefined): void {
  if (!stream || corked.has(stream) || typeof stream.cork !== 'function') return;
  stream.cork();
  corked.add(stream);
  process.nextTick(() => {
    corked.delete(stream);
    stream.uncork();
  });
}
