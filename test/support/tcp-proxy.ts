import { connect, createServer, type Server, type Socket } from 'node:net';
import { RespFrames } from './resp-frames.js';

/** One queued item of a direction: a chunk of bytes, or the sender's FIN. */
type Item = { readonly at: number; readonly chunk: Buffer } | { readonly at: number; readonly end: true };

/**
 * One direction of one connection. Chunks are held in a FIFO and written when their release time
 * has come and the proxy is not stalled. A single timer per lane (for the head only) keeps the
 * byte order even when the latency is lowered while data is in flight.
 */
class Lane {
  private readonly queue: Item[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastAt = 0;

  constructor(
    private readonly to: Socket,
    private readonly isStalled: () => boolean,
  ) {}

  push(chunk: Buffer, latencyMs: number): void {
    this.enqueue(latencyMs, (at) => ({ at, chunk }));
  }

  /** The sender half-closed: pass the FIN on after the data queued before it. */
  end(latencyMs: number): void {
    this.enqueue(latencyMs, (at) => ({ at, end: true }));
  }

  pump(): void {
    if (this.timer !== undefined || this.isStalled() || this.to.destroyed) return;
    const now = performance.now();
    let head = this.queue[0];
    while (head !== undefined && head.at <= now) {
      this.queue.shift();
      // After the receiver half-closed there is nobody to read: drop rather than write-after-end.
      if (!this.to.writableEnded) {
        if ('chunk' in head) this.to.write(head.chunk);
        else this.to.end();
      }
      head = this.queue[0];
    }
    if (head !== undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, Math.max(1, Math.ceil(head.at - now)));
    }
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  private enqueue(latencyMs: number, make: (at: number) => Item): void {
    // Never release before an earlier item: lowering the latency must not reorder bytes.
    const at = Math.max(performance.now() + latencyMs, this.lastAt);
    this.lastAt = at;
    this.queue.push(make(at));
    this.pump();
  }
}

interface Pair {
  readonly client: Socket;
  readonly server: Socket;
  readonly lanes: readonly [Lane, Lane];
}

/**
 * A loopback TCP proxy in front of one Redis node, so tests can make the network slow, silent or
 * broken without touching the server. Data is relayed by hand ('data' handlers, not pipe()) so
 * every chunk can be delayed or held.
 */
export class TcpProxy {
  private latencyMs = 0;
  private stalled = false;
  private refusing = false;
  private sticky = false;
  private readonly pairs = new Set<Pair>();
  /** Client sockets of sticky connections (see keepClientsOnServerLoss). */
  private readonly stickyClients = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targetPort: number,
    private readonly targetHost: string,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  static start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        const address = server.address();
        if (typeof address !== 'object' || address === null) {
          server.close();
          reject(new Error('TcpProxy: listener has no TCP address'));
          return;
        }
        // Only live connections should keep a process alive, not a proxy someone forgot to close.
        server.unref();
        resolve(new TcpProxy(server, address.port, targetPort, targetHost));
      });
    });
  }

  /** Delay each chunk, in both directions, by `ms` (order kept). */
  setLatency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`TcpProxy.setLatency: bad ms ${ms}`);
    this.latencyMs = ms;
  }

  /** Hold all data (connections stay open, new ones are accepted) until unstall(). */
  stall(): void {
    this.stalled = true;
  }

  unstall(): void {
    this.stalled = false;
    for (const pair of this.pairs) for (const lane of pair.lanes) lane.pump();
  }

  /** Destroy every current connection pair, as a network cut or a server crash would. */
  dropConnections(): void {
    for (const pair of [...this.pairs]) this.destroyPair(pair);
    for (const client of [...this.stickyClients]) client.destroy();
  }

  /** While on, new connections are accepted and destroyed at once (an RST-like refusal). */
  refuse(on: boolean): void {
    this.refusing = on;
  }

  /**
   * While on, new connections are sticky: when the server side goes away (a restart), the client's
   * connection stays open and the proxy dials the server again, as a load balancer or a sidecar
   * proxy may. The client never sees a reconnection. Latency and stalls do not apply to them.
   */
  keepClientsOnServerLoss(on: boolean): void {
    this.sticky = on;
  }

  reset(): void {
    this.latencyMs = 0;
    this.refusing = false;
    this.unstall();
  }

  get connectionCount(): number {
    return this.pairs.size + this.stickyClients.size;
  }

  async close(): Promise<void> {
    this.dropConnections();
    if (!this.server.listening) return;
    // server.close() waits for open connections, which dropConnections() just destroyed.
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    client.on('error', () => client.destroy());
    if (this.refusing) {
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    if (this.sticky) return this.acceptSticky(client);
    const server = connect({ port: this.targetPort, host: this.targetHost });
    server.setNoDelay(true);
    const stalled = (): boolean => this.stalled;
    const pair: Pair = { client, server, lanes: [new Lane(server, stalled), new Lane(client, stalled)] };
    const [toServer, toClient] = pair.lanes;
    this.pairs.add(pair);

    client.on('data', (chunk: Buffer) => toServer.push(chunk, this.latencyMs));
    server.on('data', (chunk: Buffer) => toClient.push(chunk, this.latencyMs));
    client.on('end', () => toServer.end(this.latencyMs));
    server.on('end', () => toClient.end(this.latencyMs));
    // An error on either side (e.g. ECONNREFUSED while the node is down) takes the partner down.
    for (const socket of [client, server]) {
      socket.on('error', () => this.destroyPair(pair));
      socket.on('close', (hadError) => {
        if (hadError) this.destroyPair(pair);
        else this.forgetIfDone(pair);
      });
    }
  }

  /**
   * See keepClientsOnServerLoss. Relays whole RESP values and counts the commands still waiting
   * for a reply; when the server goes away, each of them is answered with an error (as a Redis
   * proxy does), so the client's replies stay paired with its commands. Commands sent while no
   * server is connected wait for the next one.
   */
  private acceptSticky(client: Socket): void {
    this.stickyClients.add(client);
    const commands = new RespFrames();
    const replies = new RespFrames();
    let server: Socket | undefined;
    let connected = false;
    let closed = false;
    let inFlight = 0;
    let waiting: Buffer[] = [];
    const send = (socket: Socket, frame: Buffer): void => {
      inFlight += 1;
      socket.write(frame);
    };
    const dial = (): void => {
      if (closed) return;
      const socket = connect({ port: this.targetPort, host: this.targetHost });
      socket.setNoDelay(true);
      server = socket;
      connected = false;
      socket.on('connect', () => {
        connected = true;
        for (const frame of waiting) send(socket, frame);
        waiting = [];
      });
      socket.on('data', (chunk: Buffer) => {
        for (const reply of replies.push(chunk)) {
          inFlight -= 1;
          client.write(reply);
        }
      });
      let lost = false;
      const onLost = (): void => {
        if (lost) return;
        lost = true;
        socket.destroy();
        replies.clear();
        for (; inFlight > 0; inFlight--) client.write('-ERR proxy: upstream connection lost\r\n');
        if (server === socket) server = undefined;
        if (!closed) setTimeout(dial, 20).unref();
      };
      socket.on('error', onLost);
      socket.on('close', onLost);
    };
    client.on('data', (chunk: Buffer) => {
      for (const frame of commands.push(chunk)) {
        if (server && connected) send(server, frame);
        else waiting.push(frame);
      }
    });
    client.on('close', () => {
      closed = true;
      this.stickyClients.delete(client);
      server?.destroy();
    });
    dial();
  }

  private destroyPair(pair: Pair): void {
    for (const lane of pair.lanes) lane.clear();
    pair.client.destroy();
    pair.server.destroy();
    this.pairs.delete(pair);
  }

  /** A pair closed cleanly on both ends needs no more tracking. */
  private forgetIfDone(pair: Pair): void {
    if (pair.client.destroyed && pair.server.destroyed) this.destroyPair(pair);
  }
}
