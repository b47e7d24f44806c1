import uWS from 'uWebSockets.js';
import { createApp } from '../../src/http/app';
import { configureLog } from '../../src/log';

/**
 * A reply that cannot be written is a bug, but a bug of one request: it is answered 500, and the
 * worker goes on serving. It threw from inside the answer's promise chain, as an unhandled
 * rejection that ends a worker with all its requests in flight (here: the request went unanswered).
 * No route of roombook returns such a body; this app has one that does.
 */
let listenSocket: uWS.us_listen_socket;
let base: string;

beforeAll(async () => {
  configureLog('silent'); // the 500's log line is the operator's, not the test's
  const app = createApp([
    ['get', '/unsendable', () => ({ status: 200, body: { count: 1n } })], // JSON.stringify throws on a BigInt
    ['get', '/fine', () => ({ status: 200, body: { ok: true } })],
  ], 1024);
  listenSocket = await new Promise((resolve, reject) =>
    app.listen('127.0.0.1', 0, (socket) => (socket ? resolve(socket) : reject(new Error('no port')))));
  base = `http://127.0.0.1:${uWS.us_socket_local_port(listenSocket)}`;
});
afterAll(() => uWS.us_listen_socket_close(listenSocket));

test('a body that cannot be serialised is a 500 internal, and the server goes on serving', async () => {
  for (const method of ['GET', 'HEAD']) {
    const broken = await fetch(`${base}/unsendable`, { method, signal: AbortSignal.timeout(3000) });
    expect(broken.status).toBe(500);
    if (method === 'GET') expect(await broken.json()).toEqual({ error: 'internal', message: expect.any(String) });
    const fine = await fetch(`${base}/fine`, { method, signal: AbortSignal.timeout(3000) });
    expect(fine.status).toBe(200);
  }
});
