/**
 * A deadline for database calls that must not wait for good: every call of the listener
 * (src/db/listen.ts), and reaching the server before migrating (src/db/migrate.ts). A pool
 * connection can stall after a drop (postgres.js can leave a connection attempt that never sends),
 * and a reload or ping that never settles would freeze the cache for good: changes stay buffered
 * and checks stop. A reload reads
 * page by page and each page moves its deadline on, since what the deadline is for is a call that
 * has stopped: 100,000 rooms and 100,000 users load in about 0.5 s, but 1,000,000 of each took 4-6 s
 * per worker on the 2-core bench machine, and a deadline for the whole reload failed them for ever.
 */
const DATABASE_CALL_DEADLINE_MS = 5000;

export function withDeadline<T>(work: Promise<T> | ((progress: () => void) => Promise<T>), what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} made no progress for ${DATABASE_CALL_DEADLINE_MS} ms`)), DATABASE_CALL_DEADLINE_MS);
  });
  const running = typeof work === 'function' ? work(() => timer?.refresh()) : work;
  return Promise.race([running, deadline]).finally(() => clearTimeout(timer));
}
