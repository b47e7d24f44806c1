import { freshBookingsSpec, wrkCommand } from '../../bench/lib/load';

/** bench:scaling's fresh_bookings loads: the script is told the threads wrk really runs. */
test('fewer connections than threads: wrk runs one thread per connection, and the script is told so', () => {
  const spec = freshBookingsSpec('http://127.0.0.1:1', 10, { threads: 4, connections: 2, rooms: 100, users: 10 });
  expect(spec.threads).toBe(2);
  expect(spec.scriptArgs).toEqual({ rooms: 100, users: 10, threads: 2 });
  expect(wrkCommand(spec, '/repo')).toBe('wrk -t2 -c2 -d10s -s bench/lua/fresh_bookings.lua http://127.0.0.1:1 -- rooms=100 users=10 threads=2');
});

test('a host\'s share of the slot space is its base; at least one thread', () => {
  const spec = freshBookingsSpec('http://127.0.0.1:1', 5, { threads: 0, connections: 3, rooms: 100, users: 10, base: 7300 });
  expect(spec).toMatchObject({ threads: 1, connections: 3, scriptArgs: { rooms: 100, users: 10, threads: 1, base: 7300 } });
});
