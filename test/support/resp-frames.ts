/**
 * Splits a RESP2/RESP3 byte stream into whole top-level values (commands one way, replies the
 * other), for a proxy that must know which commands are still waiting for their reply.
 */
export class RespFrames {
  private buffer: Buffer = Buffer.alloc(0);

  /** Adds bytes; returns every value they completed, in order. */
  push(chunk: Buffer): Buffer[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: Buffer[] = [];
    for (;;) {
      const end = valueEnd(this.buffer, 0);
      if (end < 0) break;
      frames.push(this.buffer.subarray(0, end));
      this.buffer = this.buffer.subarray(end);
    }
    return frames;
  }

  /** Forget a value cut off halfway (its sender went away). */
  clear(): void {
    this.buffer = Buffer.alloc(0);
  }
}

/** End offset of the value starting at `at`, or -1 while it is incomplete. */
function valueEnd(buf: Buffer, at: number): number {
  if (at >= buf.length) return -1;
  const lineEnd = buf.indexOf('\r\n', at);
  if (lineEnd < 0) return -1;
  const type = String.fromCharCode(buf[at]);
  const header = buf.toString('latin1', at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '$': case '=': case '!': {
      const length = Number(header);
      if (length < 0) return next; // null bulk string
      return buf.length >= next + length + 2 ? next + length + 2 : -1;
    }
    case '*': case '~': case '>': case '%': case '|': {
      const count = Number(header);
      let end = next;
      const elements = count < 0 ? 0 : type === '%' || type === '|' ? 2 * count : count;
      for (let i = 0; i < elements; i++) {
        end = valueEnd(buf, end);
        if (end < 0) return -1;
      }
      // An attribute precedes the value it describes: both are one reply.
      return type === '|' ? valueEnd(buf, end) : end;
    }
    default:
      return next; // + - : , # _ ( and inline lines
  }
}
