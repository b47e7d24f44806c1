import fs from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const running = globalThis.roombookTestDatabase;
  if (!running) return;
  await running.server.stop();
  fs.rmSync(running.dir, { recursive: true, force: true });
}
