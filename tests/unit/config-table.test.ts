import fs from 'node:fs';
import path from 'node:path';
import { settings } from '../../src/config';
import { configTable } from '../../scripts/config-table';

/** The README's configuration table is `npm run config:table`'s output, between its markers. */
const README = path.resolve(__dirname, '../../README.md');
const START = '<!-- config-table:start -->';
const END = '<!-- config-table:end -->';

test('the README holds exactly the table generated from src/config.ts', () => {
  const readme = fs.readFileSync(README, 'utf8');
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  expect(start).toBeGreaterThan(-1);
  expect(end).toBeGreaterThan(start);
  const section = readme.slice(start + START.length, end).trim();
  // On failure: npm run config:table --silent, and paste its output between the markers.
  expect(section).toBe(configTable());
});

test('the table has one row per setting, naming its variable, with no machine-specific default', () => {
  const rows = configTable().split('\n').slice(2);
  expect(rows).toHaveLength(Object.keys(settings).length);
  Object.values(settings).forEach((setting, i) => expect(rows[i]).toMatch(new RegExp(`^\\| \`${setting.env}\` \\|`)));
  expect(rows.find((row) => row.startsWith('| `WORKERS` |'))).toContain('| number of CPU cores, at most 256 |'); // not this machine's count
});
