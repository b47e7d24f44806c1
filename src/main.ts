import cluster from 'node:cluster';
import { ConfigError, describeSettings, loadConfig, type Config } from './config';
import { configureLog, log, type LogLevel } from './log';
import { runPrimary, STOP_SIGNALS, WORKER_DATABASE_URL, type WorkerMessage } from './primary';
import { startWorker } from './worker';

/** Entry point: `node dist/src/main.js` starts the primary, which forks workers from this file. */
function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`roombook: invalid configuration\n${error.message}\n\nRun with --help for the list of settings.\n`);
    process.exit(1);
  }
}

async function runWorker(config: Config): Promise<void> {
  const worker = await startWorker(config, process.env[WORKER_DATABASE_URL]!);
  const stop = async (): Promise<void> => {
    await worker.stop();
    process.exit(0);
  };
  // The primary decides when workers stop; a terminal's Ctrl-C (or its closing) reaches them too
  // and means the same.
  process.on('message', (message: { type?: string }) => message?.type === 'stop' && void stop());
  for (const signal of STOP_SIGNALS) process.on(signal, () => void stop());
  process.on('disconnect', () => void stop()); // the primary is gone
  process.send!({ type: 'ready', port: worker.port } satisfies WorkerMessage);
}

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(describeSettings());
  process.exit(0);
}
const config = readConfig();
configureLog(config.logLevel as LogLevel, { role: cluster.isPrimary ? 'primary' : 'worker' });
const started = cluster.isPrimary ? runPrimary(config) : runWorker(config);
started.catch((error) => {
  log.error(`fatal: ${(error as Error).message}`, { error });
  process.exit(1);
});
