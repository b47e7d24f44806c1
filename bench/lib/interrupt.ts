import os from 'node:os';
import { stopLoads } from './load';

/**
 * A bench run that is stopped from outside still stops what it started: on Ctrl-C (SIGINT), kill
 * (SIGTERM) or its terminal closing (SIGHUP, which would otherwise end this process at once and
 * leave the embedded PostgreSQL running in its temporary folder), and when its output can no longer
 * be written (`| head`, a closed terminal: an unhandled EPIPE would end it the same way). The
 * running wrk is stopped first, then `stop` (servers, database), then the process exits 128+signal.
 */
let interruptedBy: string | undefined;

export const wasInterrupted = (): boolean => interruptedBy !== undefined;

export function stopOnInterrupt(stop: () => Promise<void>): void {
  const interrupt = (reason: string, exitCode: number) => {
    if (interruptedBy) return; // a second Ctrl-C waits for the first: stopping is bounded (servers.ts)
    interruptedBy = reason;
    process.stderr.write(`\n${reason}: stopping the load, the servers and the database ...\n`);
    stopLoads();
    void stop().finally(() => process.exit(exitCode));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => interrupt(signal, 128 + os.constants.signals[signal]));
  }
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', () => interrupt('output closed', 128 + os.constants.signals.SIGPIPE));
  }
}
