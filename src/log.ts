/** JSON-lines logger on stderr. No per-request logging: callers log events, not traffic. */
const levels = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof levels;

let threshold: number = levels[(process.env.LOG_LEVEL as LogLevel) in levels ? (process.env.LOG_LEVEL as LogLevel) : 'info'];
const base: Record<string, unknown> = { pid: process.pid };

export function configureLog(level: LogLevel, fields: Record<string, unknown> = {}): void {
  threshold = levels[level];
  Object.assign(base, fields);
}

function write(level: Exclude<LogLevel, 'silent'>, message: string, fields?: Record<string, unknown>): void {
  if (levels[level] < threshold) return;
  const error = fields?.error;
  const safeFields = error instanceof Error
    ? { ...fields, error: { message: error.message, code: (error as { code?: unknown }).code } }
    : fields;
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, ...base, message, ...safeFields }) + '\n');
}

export const log = {
  debug: (message: string, fields?: Record<string, unknown>) => write('debug', message, fields),
  info: (message: string, fields?: Record<string, unknown>) => write('info', message, fields),
  warn: (message: string, fields?: Record<string, unknown>) => write('warn', message, fields),
  error: (message: string, fields?: Record<string, unknown>) => write('error', message, fields),
};
