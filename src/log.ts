import pino from 'pino';

/**
 * JSON-lines logger on stderr (pino). Callers log events, not traffic: requests are logged only
 * at debug. The API stays `log.info(message, fields)`; pino is an implementation detail.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/**
 * The error's own words and code. Stack traces stay out of the logs (they show internals to
 * whoever reads the logs, and the issue on security asks for none) unless LOG_LEVEL=debug.
 */
function serialiseError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  return { type: error.name, message: error.message, code, stack: debugEnabled ? error.stack : undefined };
}

// Synchronous writes: a line logged just before process.exit (a fatal start) must not be lost,
// and lines are rare. Lines under 4 KiB are atomic on the pipe that every worker shares.
const destination = pino.destination({ dest: 2, sync: true });
const initialLevel = (process.env.LOG_LEVEL ?? 'info') as LogLevel;

function createLogger(level: LogLevel, bindings: Record<string, unknown>): pino.Logger {
  return pino({
    level: ['debug', 'info', 'warn', 'error', 'silent'].includes(level) ? level : 'info',
    messageKey: 'message', // the format tests and operators parse: {"message":"roombook listening",...}
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { error: serialiseError },
  }, destination);
}

let logger = createLogger(initialLevel, {});
let debugEnabled = logger.isLevelEnabled('debug');

export function configureLog(level: LogLevel, fields: Record<string, unknown> = {}): void {
  logger = createLogger(level, fields);
  debugEnabled = logger.isLevelEnabled('debug');
}

/** Per-request lines are written at debug only; this check costs a variable read. */
export function isDebugLogged(): boolean {
  return debugEnabled;
}

// The message goes in as the first field, not as pino's msg argument: pino writes that one last,
// and readers (tests/helpers/server.ts) expect "message" before the fields.
export const log = {
  debug: (message: string, fields?: Record<string, unknown>) => logger.debug({ message, ...fields }),
  info: (message: string, fields?: Record<string, unknown>) => logger.info({ message, ...fields }),
  warn: (message: string, fields?: Record<string, unknown>) => logger.warn({ message, ...fields }),
  error: (message: string, fields?: Record<string, unknown>) => logger.error({ message, ...fields }),
};
