import type { NameChange } from '../domain/existence';

/** What a worker's listener hears: a change from sql/002_notify.sql's triggers, a worker's ping, a call to reload. */
export type NameNotification = NameChange | { op: 'ping'; token: string } | { op: 'reload' };

const LARGEST_ID = 2 ** 31 - 1; // rooms.id and users.id are integer

/**
 * The notification in a payload, or undefined if it is not one of these. Anyone who can connect may
 * NOTIFY the channel, and a change taken on trust reaches the cache: an id that is not an integer
 * went into the booking statement's int[] and failed every booking in its batch with a 500.
 */
export function readNameNotification(payload: string): NameNotification | undefined {
  let message: unknown;
  try {
    message = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof message !== 'object' || message === null) return undefined;
  const { op, kind, id, name, old, token } = message as Record<string, unknown>;
  switch (op) {
    case 'reload':
      return { op };
    case 'ping':
      return typeof token === 'string' ? { op, token } : undefined;
    case 'insert':
    case 'update':
    case 'delete': {
      const isId = Number.isInteger(id) && (id as number) > 0 && (id as number) <= LARGEST_ID;
      if ((kind !== 'room' && kind !== 'user') || !isId || typeof name !== 'string') return undefined;
      if (old === undefined) return { kind, op, id: id as number, name };
      return typeof old === 'string' ? { kind, op, id: id as number, name, old } : undefined;
    }
    default:
      return undefined;
  }
}
