#!/usr/bin/env node
/**
 * postinstall: fixes bugs of postgres.js 3.4.9 (the newest release) in node_modules/postgres.
 *
 * Small writes wait behind a setImmediate (`nextWriteTimer`) holding the bytes in `chunk`. When a
 * connection closes, closed() and terminate() cancel that immediate but leave the variable set and
 * the bytes in place: the reconnected connection then never schedules a write again, so its
 * startup message is not sent and it waits for connect_timeout, again and again, while the query
 * that wanted it waits too. Seen here as booking statements that never answered after their
 * connection was terminated under load (tests/faults/outage.test.ts). Reported upstream as
 * porsager/postgres#1208 and in the pull requests around it; this is the two-line reset they
 * propose. The replacement is exact-text and idempotent; a release that changes the text is left
 * alone with a warning, and tests/unit/postgres-patch.test.ts says whether the fix is in place.
 *
 * Second bug, same place: a small write scheduled just before the connection closed runs after the
 * socket is gone (`socket.write` on null), and the TypeError, thrown from a setImmediate, kills the
 * process. Seen here as a worker dying when a room delete's transaction lost its connection
 * (tests/faults/stalled-connections.test.ts): postgres.js writes its ROLLBACK to the closed
 * connection. Upstream: porsager/postgres#1154, #1208 and pull request #1209, whose guard this is:
 * the write is dropped and whatever waited on the connection fails as CONNECTION_CLOSED.
 *
 * Third bug: a connection that closed waits out its backoff before it reconnects, on a timer that
 * terminate() does not cancel. A pool ended (end({ timeout: 0 }) terminates its connections) while
 * that timer runs still connects when it fires, and the connection stays open, idle, in a pool
 * nobody uses any more. Seen here as a LISTEN connection left over after the listener replaced its
 * pool during an outage (tests/faults/outage.test.ts failed on the extra connection about one run
 * in four on a slow machine); reproduced in tests/integration/postgres-client.test.ts. The fix keeps
 * the timer and cancels it in terminate(). Not found reported upstream.
 *
 * Fourth bug: the array types that a new connection fetches first (fetch_types, on by default) are
 * fetched by an async function whose promise nobody holds. If that query fails (its connection is
 * ended or lost while it runs, or statement_timeout cancels it), the rejection is unhandled, which
 * ends a Node process with everything it has in flight. The query that opened the connection fails
 * (or runs) on its own either way, so nothing is lost by handling it. Seen here as a worker dying
 * when the booking watchdog replaced a pool whose new connection had gone silent while fetching
 * its types (tests/faults/stalled-connections.test.ts). Upstream: porsager/postgres#1192, #1205,
 * #1223 (open).
 *
 * Fifth bug: an ErrorResponse that arrives while a query runs is kept (errorResponse) until the
 * ReadyForQuery that follows it; when the server closes the connection instead (pg_terminate_backend
 * sends FATAL 57P01, then closes), closed() leaves it set, and the next connection's first
 * ReadyForQuery, right after authentication, takes it for its own: the query that opened the new,
 * healthy connection fails with the old one's 57P01, and if that connection was fetching its array
 * types it never does (it skips the fetch), so array parameters then fail as malformed array
 * literals (22P02) and array columns come back as text. Seen here as a listener whose connection
 * was terminated as it re-subscribed: postgres.js's next LISTEN, on a healthy connection, failed
 * with the old 57P01 and was given up, so the worker heard no notification until its next check
 * (tests/faults/connection-setup.test.ts); reproduced in tests/integration/postgres-client.test.ts.
 * closed() now forgets the error with the connection. Upstream: porsager/postgres#1223 (open).
 *
 * Sixth bug: a connection that the server (or a proxy or load balancer in front of it) closes
 * cleanly (FIN, no error message) before it is ready does not fail the query that opened it:
 * closed() reconnects at once, with no backoff, and again on every close. Behind a TCP proxy whose
 * database is down, or that drops new connections, each pool then opened hundreds of connections
 * a second, and the requests waiting on them got their 503 only at roombook's own deadlines (a read
 * at QUERY_TIMEOUT_MS, a booking at the watchdog, once at 12 s) rather than at once, as they do when
 * the connection is refused or reset (tests/faults/connection-setup.test.ts). The query now fails
 * as CONNECTION_CLOSED and the pool waits out its backoff before the next attempt, as after a
 * reset; a close that postgres.js makes itself to try another host is left as it was. Upstream:
 * porsager/postgres#1193, pull request #1214 (open).
 *
 * Each fix is applied unless its text is there already, so an install patched by an earlier
 * version of this script gets the fixes it lacks.
 */
const fs = require('node:fs');
const path = require('node:path');

const MARK = '/* roombook: reset the write state with the socket */';
const GUARD = '/* roombook: no write after the socket is gone */';
const RECONNECT = '/* roombook: a pending reconnect, cancelled by terminate() */';
const TYPES = '/* roombook: a failed type fetch must not end the process */';
const STALE_ERROR = '/* roombook: an error of the closed connection is not the next one\'s */';
const STARTUP_CLOSE = '/* roombook: a clean close before the connection is ready fails its query */';
const fixes = [
  { where: 'terminate()', from: '    clearImmediate(nextWriteTimer)\n    if (socket) {',
    to: `    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null ${MARK}\n    if (socket) {` },
  { where: 'closed()', from: "    clearImmediate(nextWriteTimer)\n    socket.removeListener('data', data)",
    to: `    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null ${MARK}\n    socket.removeListener('data', data)` },
  { where: 'nextWrite()', from: '  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)',
    to: `  function nextWrite(fn) {\n    if (!socket) { ${GUARD}\n      nextWriteTimer !== null && clearImmediate(nextWriteTimer)\n` +
      "      chunk = nextWriteTimer = null\n      error(Errors.connection('CONNECTION_CLOSED', options))\n      return false\n    }\n" +
      '    const x = socket.write(chunk, fn)' },
  { where: 'the declarations', from: '    , terminated = false\n',
    to: `    , terminated = false\n    , reconnectTimer = null ${RECONNECT}\n` },
  { where: 'reconnect()', from: '  function reconnect() {\n    setTimeout(connect,',
    to: '  function reconnect() {\n    reconnectTimer = setTimeout(connect,' },
  { where: 'terminate()', from: '  function terminate() {\n    terminated = true\n',
    to: `  function terminate() {\n    terminated = true\n    clearTimeout(reconnectTimer) ${RECONNECT}\n` },
  { where: 'ReadyForQuery', from: '        return fetchArrayTypes()\n',
    to: `        return fetchArrayTypes().catch(() => {}) ${TYPES}\n` },
  { where: 'closed()', from: '  async function closed(hadError) {\n    incoming = Buffer.alloc(0)\n',
    to: `  async function closed(hadError) {\n    errorResponse = null ${STALE_ERROR}\n    incoming = Buffer.alloc(0)\n` },
  { where: 'closed()', from: '    socket = null\n\n    if (initial)\n      return reconnect()\n',
    to: '    socket = null\n\n' +
      `    if (initial && !hadError && !terminated && !(connection.queue === queues.connecting && options.host[retries + 1])) { ${STARTUP_CLOSE}\n` +
      "      options.shared.retries++\n      errored(Errors.connection('CONNECTION_CLOSED', options))\n    }\n" +
      '    if (initial)\n      return reconnect()\n' },
];

/** node_modules/postgres (its package.json is not exported, so from its main file upwards). */
function packageRoot() {
  let dir;
  try {
    dir = path.dirname(require.resolve('postgres', { paths: [path.join(__dirname, '..')] }));
  } catch {
    return undefined; // not installed (yet): nothing to patch
  }
  for (; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'postgres') return dir;
  }
  return undefined;
}

function patchFile(file) {
  const text = fs.readFileSync(file, 'utf8');
  let patched = text;
  for (const fix of fixes) {
    if (patched.includes(fix.to)) continue;
    if (patched.split(fix.from).length !== 2) return `left alone: the text around ${fix.where} is not the one this patch knows`;
    patched = patched.replace(fix.from, fix.to);
  }
  if (patched === text) return 'already patched';
  fs.writeFileSync(file, patched);
  return 'patched';
}

const root = packageRoot();
if (root) {
  for (const variant of ['cjs/src', 'src', 'cf/src']) {
    const file = path.join(root, variant, 'connection.js');
    if (!fs.existsSync(file)) continue;
    const outcome = patchFile(file);
    const line = `roombook: postgres.js ${path.relative(root, file)}: ${outcome}`;
    if (outcome.startsWith('left alone')) console.warn(line);
    else if (process.env.npm_config_loglevel === 'verbose') console.log(line);
  }
}

module.exports = { MARK, GUARD, RECONNECT, TYPES, STALE_ERROR, STARTUP_CLOSE };
