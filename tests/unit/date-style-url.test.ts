import { withoutDateStyle } from '../../src/db/sql';

describe('withoutDateStyle', () => {
  test.each([
    ['postgres://u@h:5432/db?DateStyle=SQL,DMY', 'postgres://u@h:5432/db'],
    ['postgres://u@h/db?datestyle=German&sslmode=disable', 'postgres://u@h/db?sslmode=disable'],
    ['postgres://u@h/db?max=3&DATESTYLE=Postgres&datestyle=SQL', 'postgres://u@h/db?max=3'],
    ['postgres://u@h/db?Date%53tyle=SQL', 'postgres://u@h/db'],
  ])('drops the DateStyle of %s', (url, expected) => {
    expect(withoutDateStyle(url)).toBe(expected);
  });

  test.each([
    'postgres://u@h/db',
    'postgres://u@a:1,b:2/db?target_session_attrs=read-write&idle_session_timeout=0',
    'postgres://u@h/db?options=-c%20statement_timeout%3D0',
  ])('leaves %s as it was', (url) => {
    expect(withoutDateStyle(url)).toBe(url);
  });
});
