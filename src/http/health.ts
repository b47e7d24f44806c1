import type { Sql } from '../db/sql';
import type { ExistenceCache } from '../domain/existence';
import { AppError } from '../errors';
import { PreSerialised, type Reply } from './reply';

const HEALTHY: Reply = { status: 200, body: new PreSerialised('{"status":"ok"}') };
const READY_TIMEOUT_MS = 1000;

export function healthRoutes(sql: Sql, cache: ExistenceCache, isStopping: () => boolean) {
  return {
    /** The process answers: nothing else is checked. */
    health: (): Reply => HEALTHY,

    /** The database answers within a second and this worker's cache is loaded. */
    ready: async (): Promise<Reply> => {
      if (isStopping()) throw new AppError('shutting_down');
      if (!cache.loaded) throw new AppError('not_ready', 'The existence cache is not loaded yet.');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new AppError('db_unavailable')), READY_TIMEOUT_MS);
      });
      try {
        await Promise.race([sql`SELECT 1`, timeout]);
      } finally {
        clearTimeout(timer);
      }
      return { status: 200, body: { status: 'ready', rooms: cache.rooms.size, users: cache.users.size } };
    },
  };
}
