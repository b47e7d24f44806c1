/**
 * The error catalogue: every code a client can see, its HTTP status and its default message.
 * Domain and data code throw `AppError(code)`; only src/http/reply.ts turns one into a response.
 */
export const catalogue = {
  // 400: the request is malformed
  invalid_json: [400, 'The request body is not valid JSON.'],
  invalid_body: [400, 'The request body does not have the expected fields.'],
  invalid_name: [400, 'The name has the wrong length, or a character a name may not hold.'],
  invalid_date: [400, 'The date is not a real date in the form DD.MM.YY, DD/MM/YY or YYYY-MM-DD.'],
  invalid_query: [400, 'A query parameter is not valid.'],
  invalid_id: [400, 'The id in the path is not a positive integer.'],
  unauthorized: [401, 'This call needs Authorization: Bearer <admin token>.'],
  forbidden: [403, 'This call is not allowed with the credentials given.'],
  unsupported_media_type: [415, 'The request body must be sent as application/json, uncompressed.'],
  // 404, 405, 413: HTTP-level
  not_found: [404, 'Nothing is found at this address.'],
  method_not_allowed: [405, 'This method is not allowed on this path.'],
  body_too_large: [413, 'The request body is too large.'],
  // 409: business rules, as the original service promised
  room_not_found: [409, 'No room has this name or id.'],
  user_not_found: [409, 'No user has this name or id.'],
  date_in_past: [409, 'The date is before today.'],
  already_booked: [409, 'The room is already booked on this day.'],
  name_taken: [409, 'This name is already in use.'],
  room_has_bookings: [409, 'The room has bookings today or later; delete with ?cascade=true to cancel them too.'],
  user_has_bookings: [409, 'The user has bookings today or later; delete with ?cascade=true to cancel them too.'],
  // 5xx: never caused by input
  db_unavailable: [503, 'The database cannot serve this right now; retry shortly.'],
  not_ready: [503, 'This worker is not ready yet.'],
  shutting_down: [503, 'The server is shutting down.'],
  internal: [500, 'An unexpected error happened; it has been logged.'],
  // never sent: the client closed its connection first (metered as nginx's 499)
  client_gone: [499, 'The client closed the connection before its booking was sent to the database; it was not made.'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof catalogue;

/**
 * An outcome the client caused (a 409 is a business answer, not a bug), so no stack trace is
 * captured: it cost 3 µs per throw, the dearest step of a 409 on the hot path (bench:micro).
 */
export class AppError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message?: string) {
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message ?? catalogue[code][1]);
    Error.stackTraceLimit = stackTraceLimit;
    this.code = code;
  }
}

export const statusOf = (code: ErrorCode): number => catalogue[code][0];

/** Failures to connect, or of a connection under a statement (whose outcome is then not known). */
const connectionLostCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH',
  'EAI_AGAIN', // a DNS lookup that failed for now
  'EMFILE', 'ENFILE', 'EADDRNOTAVAIL', // no file descriptor, or no local port, left for a new connection
  '28000', '28P01', '3D000', // the server refuses the new connection: login not allowed, wrong password, no such database
  '55000', // ... or the database does not accept connections now (ALTER DATABASE ... ALLOW_CONNECTIONS false)
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
  '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006',
  'QUERY_DEADLINE', // no answer within QUERY_TIMEOUT_MS (src/db/sql.ts)
]);

/**
 * SQLSTATEs of a statement the server refused on a connection that stays up: it was rolled back,
 * and the database cannot serve it now, through no fault of the request: answered 503 with
 * Retry-After, not 500.
 */
const refusedCodes = new Set([
  '57014', // query_canceled: statement_timeout ran out
  '55P03', // lock_not_available: a lock_timeout the operator asked for (DATABASE_URL ?lock_timeout=...) ran out
  '25006', // read_only_sql_transaction: a standby, or default_transaction_read_only (maintenance)
  '53000', '53100', '53200', '53400', // insufficient resources: disk full, out of memory, a configured limit
  '58000', '58030', // system_error, io_error
  '40001', // serialization_failure: on a server whose default isolation is SERIALIZABLE
  '40P01', // deadlock_detected: rolled back for another transaction's sake (see isTransientConflict)
]);

const codeOf = (error: unknown): unknown => (error as { code?: unknown })?.code;

/**
 * A deadlock (40P01) or a serialization failure (40001): the statement was rolled back for another
 * transaction's sake, and running it again, once that one has ended, may well succeed. The callers
 * that can (the booking statement, a rename) run it again a few times before answering 503.
 */
export function isTransientConflict(error: unknown): boolean {
  const code = codeOf(error);
  return code === '40P01' || code === '40001';
}

/** The server refused the statement (see refusedCodes): nothing was written. */
export function isRefusedByDatabase(error: unknown): boolean {
  const code = codeOf(error);
  return typeof code === 'string' && refusedCodes.has(code);
}

/**
 * A write refused as read-only: the server may be a standby that the database address no longer
 * names after a failover, so the pool that met it connects anew (src/db/bookings.ts, src/db/sql.ts).
 */
export function isReadOnlyRefusal(error: unknown): boolean {
  return codeOf(error) === '25006';
}

export function isDatabaseUnavailable(error: unknown): boolean {
  const code = codeOf(error);
  return typeof code === 'string' && (connectionLostCodes.has(code) || refusedCodes.has(code));
}

/** Any thrown value as an AppError: ours pass through, lost databases become 503, the rest 500. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isDatabaseUnavailable(error)) return new AppError('db_unavailable');
  return new AppError('internal');
}
