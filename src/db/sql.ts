import postgres from 'postgres';

export type Sql = postgres.Sql<{}>;

/**
 * One postgres.js pool per process. Dates stay ISO strings (a day is not an instant) and bigint
 * ids become numbers (bookings would need 2^53 rows to overflow).
 */
export function createSql(url: string, options: { max: number; applicationName: string }): Sql {
  return postgres(url, {
    max: options.max,
    connect_timeout: 3,
    idle_timeout: 0,
    prepare: true,
    onnotice: () => {},
    connection: { application_name: options.applicationName },
    types: {
      day: { to: 1082, from: [1082], serialize: (value: string) => value, parse: (value: string) => value },
      id8: { to: 20, from: [20], serialize: (value: number) => String(value), parse: (value: string) => Number(value) },
    },
  }) as unknown as Sql;
}
