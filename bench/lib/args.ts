/**
 * Command-line options of the bench scripts: `--name value`, `--name=value`, `--flag`. Every
 * option is declared with its default and meaning; `--help` prints them. Unknown options stop.
 */
export interface OptionSpec {
  value: number | string | boolean;
  help: string;
}

export type Options<T extends Record<string, OptionSpec>> = { [K in keyof T]: T[K]['value'] };

export function parseOptions<T extends Record<string, OptionSpec>>(argv: string[], spec: T, usage: string): Options<T> {
  const options: Record<string, unknown> = {};
  for (const [name, option] of Object.entries(spec)) options[name] = option.value;
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([\w-]+)(?:=(.*))?$/.exec(argv[i]);
    if (argv[i] === '--help' || argv[i] === '-h') {
      process.stdout.write(`${usage}\n\nOptions:\n${Object.entries(spec)
        .map(([name, option]) => `  --${name.padEnd(18)} ${option.help} (default: ${String(option.value) || '(none)'})`).join('\n')}\n`);
      process.exit(0);
    }
    if (!match || !(match[1] in spec)) fail(`unknown argument ${argv[i]} (see --help)`);
    const name = match[1];
    const fallback = spec[name].value;
    if (typeof fallback === 'boolean') {
      options[name] = match[2] === undefined ? true : match[2] !== 'false';
      continue;
    }
    const raw = match[2] ?? argv[++i];
    if (raw === undefined) fail(`--${name} needs a value`);
    if (typeof fallback === 'number') {
      const value = Number(raw);
      if (!Number.isFinite(value) || value < 0) fail(`--${name} must be a number >= 0, not ${raw}`);
      options[name] = value;
    } else {
      options[name] = raw;
    }
  }
  return options as Options<T>;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}
