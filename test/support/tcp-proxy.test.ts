import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { TcpProxy } from './tcp-proxy.js';

/** A plain echo server: the proxy is tested on bytes, independent of Redis. */
let echo: Server;
let echoPort: number;
const echoSockets = new Set<Socket>();
let proxy: TcpProxy;
const clients = new Set<Socket>();

beforeAll(async () => {
  echo = createServer((socket) => {
    echoSockets.add(socket);
    socket.on('close', () => echoSockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => socket.write(chunk));
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const address = echo.address();
  if (typeof address !== 'object' || address === null) throw new Error('echo server has no address');
  echoPort = address.port;
});

afterAll(async () => {
  for (const socket of echoSockets) socket.destroy();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

beforeAll(async () => {
  proxy = await TcpProxy.start(echoPort);
});

afterEach(() => {
  for (const client of clients) client.destroy();
  clients.clear();
  proxy.reset();
  proxy.dropConnections();
});

afterAll(async () => {
  await proxy.close();
});

async function open(port = proxy.port): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1' });
  clients.add(socket);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Resolves with everything received once `expected` bytes arrived. */
function receive(socket: Socket, expected: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      if (text.length >= expected) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after ${JSON.stringify(text)}`)));
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

describe('TcpProxy', () => {
  it('listens on its own free loopback port and relays both ways', async () => {
    expect(proxy.port).toBeGreaterThan(0);
    expect(proxy.port).not.toBe(echoPort);
    const socket = await open();
    const reply = receive(socket, 5);
    socket.write('hello');
    await expect(reply).resolves.toBe('hello');
  });

  it('setLatency delays each direction', async () => {
    const socket = await open();
    proxy.setLatency(100);
    const t0 = performance.now();
    const reply = receive(socket, 4);
    socket.write('ping');
    await reply;
    // 100 ms out and 100 ms back; a little slack for timer granularity.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it('keeps byte order when latency is lowered while data is in flight', async () => {
    const socket = await open();
    proxy.setLatency(150);
    const reply = receive(socket, 2);
    socket.write('a');
    await sleep(20);
    proxy.setLatency(0);
    socket.write('b');
    await expect(reply).resolves.toBe('ab');
  });

  it('stall holds data (connections stay open) until unstall', async () => {
    const socket = await open();
    proxy.stall();
    let got = '';
    socket.on('data', (chunk: Buffer) => (got += chunk.toString('utf8')));
    socket.write('held');
    // A connection opened while stalled is accepted too, and held as well.
    const late = await open();
    const lateReply = receive(late, 4);
    late.write('late');
    await sleep(150);
    expect(got).toBe('');
    expect(socket.destroyed).toBe(false);
    proxy.unstall();
    await expect(lateReply).resolves.toBe('late');
    await sleep(20);
    expect(got).toBe('held');
  });

  it('dropConnections destroys every current pair', async () => {
    const first = await open();
    const second = await open();
    await sleep(20); // Let the proxy register both pairs.
    expect(proxy.connectionCount).toBe(2);
    proxy.dropConnections();
    await Promise.all([closed(first), closed(second)]);
    expect(proxy.connectionCount).toBe(0);
    // New connections still work.
    const third = await open();
    const reply = receive(third, 2);
    third.write('ok');
    await expect(reply).resolves.toBe('ok');
  });

  it('refuse(true) accepts then destroys new connections; refuse(false) restores', async () => {
    proxy.refuse(true);
    const refused = connect({ port: proxy.port, host: '127.0.0.1' });
    clients.add(refused);
    refused.on('error', () => {});
    let got = '';
    refused.on('data', (chunk: Buffer) => (got += chunk.toString('utf8')));
    refused.on('connect', () => refused.write('x'));
    await closed(refused);
    expect(got).toBe('');

    proxy.refuse(false);
    const socket = await open();
    const reply = receive(socket, 2);
    socket.write('ok');
    await expect(reply).resolves.toBe('ok');
  });

  it('closes the client side when the target is down', async () => {
    const deadTarget = await TcpProxy.start(await freePort()); // Nothing listens there.
    try {
      const socket = await open(deadTarget.port);
      await closed(socket);
      expect(deadTarget.connectionCount).toBe(0);
    } finally {
      await deadTarget.close();
    }
  });

  it('close() closes the listener and every socket', async () => {
    const own = await TcpProxy.start(echoPort);
    const socket = await open(own.port);
    own.setLatency(1_000);
    socket.write('pending'); // A queued chunk and its timer must not outlive close().
    await sleep(10);
    await own.close();
    await closed(socket);
    await expect(open(own.port)).rejects.toThrow(/ECONNREFUSED/);
    await own.close(); // Idempotent.
  });
});
