import cluster from 'node:cluster';
import net from 'node:net';
import os from 'node:os';
import uWS from 'uWebSockets.js';

/**
 * The ceiling: roombook's process shape (node:cluster primary, uWebSockets.js workers sharing one
 * port) answering POST /book with no database. It reads the body as roombook does (abort handler
 * first; a body in one chunk decoded where it lies, one in several copied together), JSON.parse's it
 * and answers 201 with a small JSON in one corked write.
 * Whatever roombook does beyond this costs the difference in req/s.
 *
 * Settings: PORT (0: a free port), WORKERS (default: cores), HOST (127.0.0.1). Prints one JSON
 * line {"message":"ceiling listening","port":N} when every worker listens; SIGTERM stops it.
 */
const host = process.env.HOST || '127.0.0.1';
const workers = Number(process.env.WORKERS || os.availableParallelism());
const STATUS_201 = '201 Created';
const STATUS_400 = '400 Bad Request';

function startWorker(port: number): void {
  let bookings = 0;
  const app = uWS.App().post('/book', (res, req) => {
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    const declared = Number(req.getHeader('content-length')) || 1024;
    let body: Buffer | undefined;
    let length = 0;
    res.onData((chunk, isLast) => {
      let text: string;
      if (isLast && length === 0) {
        text = Buffer.from(chunk).toString('utf8'); // the chunk is valid only during this call: decoded at once
      } else {
        const bytes = new Uint8Array(chunk);
        body ??= Buffer.allocUnsafe(declared);
        if (length + bytes.length > body.length) {
          const grown = Buffer.allocUnsafe(Math.max(body.length * 2, length + bytes.length));
          body.copy(grown, 0, 0, length);
          body = grown;
        }
        body.set(bytes, length);
        length += bytes.length;
        if (!isLast) return;
        text = body.toString('utf8', 0, length);
      }
      if (aborted) return;
      let status = STATUS_201;
      let reply: string;
      try {
        const booking = JSON.parse(text);
        reply = JSON.stringify({ id: ++bookings, room_name: booking.room_name, user_name: booking.user_name, date: booking.date });
      } catch {
        status = STATUS_400;
        reply = '{"error":"invalid_json"}';
      }
      res.cork(() => {
        res.writeStatus(status).writeHeader('Content-Type', 'application/json').end(reply);
      });
    });
  }).any('/*', (res) => { res.writeStatus('404 Not Found').end(); });

  app.listen(host, port, (socket) => {
    if (!socket) {
      process.stderr.write(`ceiling worker: cannot listen on ${host}:${port}\n`);
      process.exit(1);
    }
    process.send!({ type: 'ready' });
  });
  // close() is in uWS ≥ 20.26 but not in its typings (as in src/worker.ts).
  const stop = () => { (app as unknown as { close(): void }).close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

/** Port 0 must be resolved once, in the primary: each worker listening on 0 would get its own port. */
function pickPort(requested: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().once('error', reject);
    probe.listen({ host, port: requested, exclusive: true }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function startPrimary(): Promise<void> {
  const port = await pickPort(Number(process.env.PORT || 0));
  let stopping = false;
  const stopAll = (code: number): void => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    process.exit(code);
  };
  process.on('SIGTERM', () => stopAll(0));
  process.on('SIGINT', () => stopAll(0));
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork({ PORT: String(port) });
    worker.on('message', (message: { type?: string }) => {
      if (message.type === 'ready' && ++ready === workers) {
        process.stdout.write(`${JSON.stringify({ message: 'ceiling listening', port, workers })}\n`);
      }
    });
    worker.on('exit', (code) => {
      if (!stopping) {
        process.stderr.write(`ceiling worker exited (code ${code}); stopping\n`);
        stopAll(1);
      }
    });
  }
}

if (cluster.isPrimary) {
  startPrimary().catch((error) => {
    process.stderr.write(`ceiling: ${(error as Error).message}\n`);
    process.exit(1);
  });
} else {
  startWorker(Number(process.env.PORT));
}
