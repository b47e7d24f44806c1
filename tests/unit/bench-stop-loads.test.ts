import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { runLoad, stopLoads, wrkInstalled } from '../../bench/lib/load';

/** An interrupted bench run stops its wrk: wrk itself, not only the shell that measures it. */
const repoRoot = path.resolve(__dirname, '..', '..');
const wrkProcesses = (port: number) => fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(`http://127.0.0.1:${port}`); } catch { return false; }
});

(wrkInstalled() ? test : test.skip)('stopLoads ends a 60 s wrk at once, and its shell with it', async () => {
  // A server that takes connections and never answers: wrk waits on it until its -d is up.
  const silent = net.createServer((socket) => socket.on('error', () => {}));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as net.AddressInfo;
  try {
    const load = runLoad('wrk', { workload: 'post_book', url: `http://127.0.0.1:${port}`, threads: 1, connections: 1, durationS: 60 }, repoRoot);
    const outcome = load.then(() => 'finished', () => 'stopped');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(wrkProcesses(port).length).toBeGreaterThan(0);
    const stoppedAt = Date.now();
    stopLoads();
    expect(await outcome).toBe('stopped');
    expect(Date.now() - stoppedAt).toBeLessThan(5000);
    expect(wrkProcesses(port)).toEqual([]);
  } finally {
    stopLoads();
    silent.close();
  }
});
