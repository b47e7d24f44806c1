import fs from 'node:fs';
import path from 'node:path';

/**
 * postgres.js 3.4.9 leaves its write timer set when a connection closes, and the reconnected
 * connection then never writes; a write scheduled just before a close runs on a socket that is
 * gone, which kills the process; an ended pool's connection still reconnects when its backoff
 * runs out; a failed fetch of a new connection's array types is an unhandled rejection; a
 * terminated connection's error is replayed onto the next connection's first query; and a clean
 * close before a connection is ready reconnects at once for ever instead of failing its query
 * (scripts/patch-postgres.cjs, run by npm at install). This checks the postgres.js that roombook
 * loads: in both teardown paths the timer and the buffered bytes are reset, nextWrite() checks for
 * the socket, terminate() cancels the reconnect, and the types fetch's promise is handled, by the
 * patch or by a release that fixed it (tests/integration/postgres-client.test.ts shows the last
 * two against a real server).
 */
const connectionJs = fs.readFileSync(path.join(path.dirname(require.resolve('postgres')), 'connection.js'), 'utf8');

function body(name: string): string {
  const start = connectionJs.indexOf(`function ${name}(`);
  expect(start).toBeGreaterThan(-1);
  return connectionJs.slice(start, connectionJs.indexOf('\n  }\n', start));
}

test.each(['closed', 'terminate'])('%s() resets the write timer and the buffered bytes along with the socket', (name) => {
  const teardown = body(name);
  expect(teardown).toContain('clearImmediate(nextWriteTimer)');
  expect(teardown).toMatch(/chunk = nextWriteTimer = null|nextWriteTimer = chunk = null/);
});

test('nextWrite() never writes to a socket that is gone: whatever waited fails as CONNECTION_CLOSED', () => {
  const nextWrite = body('nextWrite');
  const guard = nextWrite.indexOf('if (!socket)');
  expect(guard).toBeGreaterThan(-1);
  expect(guard).toBeLessThan(nextWrite.indexOf('socket.write('));
  expect(nextWrite).toContain("error(Errors.connection('CONNECTION_CLOSED', options))");
});

test('terminate() cancels a pending reconnect: an ended pool does not connect again when its backoff runs out', () => {
  expect(body('reconnect')).toMatch(/(\w+) = setTimeout\(connect,/);
  const timer = /(\w+) = setTimeout\(connect,/.exec(body('reconnect'))![1];
  expect(body('terminate')).toContain(`clearTimeout(${timer})`);
});

test('a failed fetch of the array types is handled: it does not become an unhandled rejection', () => {
  expect(connectionJs).not.toMatch(/return fetchArrayTypes\(\)\n/);
  expect(connectionJs).toMatch(/fetchArrayTypes\(\)\.catch\(|await fetchArrayTypes\(\)/);
});

test('closed() forgets an error of the connection it closes: the next connection does not answer its first query with it', () => {
  const closed = body('closed');
  expect(closed).toMatch(/errorResponse = null/);
  expect(closed.indexOf('errorResponse = null')).toBeLessThan(closed.indexOf('return reconnect()'));
});

test('closed() fails the query of a connection closed cleanly before it is ready, rather than reconnecting at once for ever', () => {
  const closed = body('closed');
  const failed = closed.indexOf("errored(Errors.connection('CONNECTION_CLOSED', options))");
  expect(failed).toBeGreaterThan(-1);
  expect(failed).toBeLessThan(closed.indexOf('return reconnect()'));
});

test('the patch is applied once, however often npm runs it', () => {
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
  execFileSync(process.execPath, [path.join(__dirname, '../../scripts/patch-postgres.cjs')]);
  const again = fs.readFileSync(path.join(path.dirname(require.resolve('postgres')), 'connection.js'), 'utf8');
  expect(again).toBe(connectionJs);
  expect(again.split('chunk = nextWriteTimer = null').length - 1).toBeLessThanOrEqual(4); // nextWrite's two + the two resets
});
