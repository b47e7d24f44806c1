import { AppError } from '../errors';
import { checkNameBody, PageQuery, RemoveQuery } from '../domain/schemas';
import { normalised } from '../domain/booking';
import type { NamedRepository } from '../db/named';
import type { Access } from '../domain/access';
import { Query, pathId } from './params';
import type { Request } from './route';
import type { Reply } from './reply';

/**
 * The five routes of rooms, and the same five of users. The existence caches need no update
 * here: every worker hears the change through NOTIFY, and the booking statement checks names
 * against the table, so a cache that has not heard it yet cannot cause a wrong booking.
 */
export function namedRoutes(repository: NamedRepository, access: Access, today: () => string) {
  const kind = repository.kind;
  const nameFrom = (json: unknown): string => {
    if (!checkNameBody.check(json)) throw new AppError('invalid_body', checkNameBody.explain(json));
    return normalised(kind, json.name);
  };

  return {
    create: async (request: Request): Promise<Reply> => {
      access.requireAdmin(request.headers.authorization, request.headers.origin);
      return { status: 201, body: await repository.create(nameFrom(request.json)) };
    },

    list: async (request: Request): Promise<Reply> => {
      const query = new Query(request.query, PageQuery); // names, ranges and defaults
      const limit = query.integer('limit')!;
      const items = await repository.list(query.integer('after')!, limit);
      return { status: 200, body: { items, next: items.length === limit ? items[items.length - 1].id : null } };
    },

    get: async (request: Request): Promise<Reply> =>
      ({ status: 200, body: await repository.get(pathId(request.params[0])) }),

    rename: async (request: Request): Promise<Reply> => {
      access.requireAdmin(request.headers.authorization, request.headers.origin);
      return { status: 200, body: await repository.rename(pathId(request.params[0]), nameFrom(request.json)) };
    },

    remove: async (request: Request): Promise<Reply> => {
      access.requireAdmin(request.headers.authorization, request.headers.origin);
      const id = pathId(request.params[0]);
      const cascade = new Query(request.query, RemoveQuery).boolean('cascade');
      await repository.remove(id, cascade, today());
      return { status: 204 };
    },
  };
}
