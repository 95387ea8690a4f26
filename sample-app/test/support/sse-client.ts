import { get, type ClientRequest, type IncomingMessage } from 'node:http';

export interface SseClient {
  /** The response head (status, headers) once it arrives. */
  readonly response: Promise<IncomingMessage>;
  /** The data of every event received so far. */
  readonly events: readonly string[];
  /** Resolves once `count` events have arrived; rejects after `timeoutMs`. */
  waitForEvents(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves with all events when the server ends the stream. */
  readonly ended: Promise<readonly string[]>;
  /** Hangs up, as a browser tab that is closed. */
  disconnect(): void;
}

/**
 * A minimal EventSource over node:http. supertest buffers a response until it ends; these
 * tests need to act while a stream is still open and to drop the connection midway.
 */
export function openSse(url: string): SseClient {
  const events: string[] = [];
  const listeners = new Set<() => void>();
  let request!: ClientRequest;
  let buffer = '';

  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request = get(url, { headers: { accept: 'text/event-stream' } }, resolve);
    request.on('error', reject);
  });
  const ended = response.then(
    (message) =>
      new Promise<readonly string[]>((resolve, reject) => {
        message.setEncoding('utf8');
        message.on('data', (chunk: string) => {
          buffer += chunk;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const data = buffer
              .slice(0, end)
              .split('\n')
              .filter((line) => line.startsWith('data:'))
              .map((line) => line.slice('data:'.length).trimStart())
              .join('\n');
            buffer = buffer.slice(end + 2);
            if (data !== '') events.push(data);
          }
          for (const listener of listeners) listener();
        });
        message.on('end', () => resolve(events));
        message.on('error', reject);
        message.on('aborted', () => reject(new Error('SSE stream aborted')));
      }),
  );
  // A test that disconnects on purpose never looks at `ended`: no unhandled rejection then.
  ended.catch(() => undefined);

  return {
    response,
    events,
    ended,
    waitForEvents: (count, timeoutMs = 5_000) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (events.length < count) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`only ${events.length} of ${count} SSE events within ${timeoutMs} ms`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
    disconnect: () => request.destroy(),
  };
}
