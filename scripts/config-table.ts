import { settings } from '../src/config';

/**
 * `npm run config:table`: the README's configuration table, printed from src/config.ts, where
 * every setting is declared once. tests/unit/config-table.test.ts fails when the README's copy
 * (between <!-- config-table:start --> and <!-- config-table:end -->) differs from this output.
 */
const cell = (text: string): string => text.replace(/\|/g, '\\|');

export function configTable(): string {
  const rows = Object.values(settings).map((setting) => {
    const fallback = 'documentedDefault' in setting ? setting.documentedDefault
      : setting.fallback === '' ? '(empty)' : `\`${setting.fallback}\``;
    return `| \`${setting.env}\` | ${cell(fallback)} | ${cell(setting.accepts)} | ${cell(setting.meaning)} |`;
  });
  return ['| variable | default | accepts | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

if (require.main === module) process.stdout.write(`${configTable()}\n`);
