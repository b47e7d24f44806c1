/**
 * Command-line options of the bench scripts: `--name value`, `--name=value`, `--flag`. Every
 * option is declared with its default and meaning; `--help` prints them. Unknown options and
 * values out of range stop with a one-line message and exit code 2, before anything starts.
 */
export interface OptionSpec {
  value: number | string | boolean;
  help: string;
  /** Numbers: the smallest value allowed (default 0). */
  min?: number;
  /** Numbers: whole numbers only (wrk takes whole seconds, threads and connections). */
  whole?: boolean;
  /** Strings: the values allowed. */
  choices?: string[];
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
    if (!match || !(match[1] in spec)) usageError(`unknown argument ${argv[i]} (see --help)`);
    const name = match[1];
    const option = spec[name];
    if (typeof option.value === 'boolean') {
      options[name] = match[2] === undefined ? true : match[2] !== 'false';
      continue;
    }
    const raw = match[2] ?? argv[++i];
    if (raw === undefined) usageError(`--${name} needs a value`);
    if (typeof option.value === 'number') {
      const value = Number(raw);
      const min = option.min ?? 0;
      const kind = option.whole ? 'a whole number' : 'a number';
      if (raw.trim() === '' || !Number.isFinite(value) || value < min || (option.whole && !Number.isInteger(value))) {
        usageError(`--${name} must be ${kind} >= ${min}, not ${raw}`);
      }
      options[name] = value;
    } else {
      if (option.choices && !option.choices.includes(raw)) usageError(`--${name} must be one of ${option.choices.join(', ')}, not ${raw}`);
      options[name] = raw;
    }
  }
  return options as Options<T>;
}

/** A mistake in the command line: the message alone (no stack), exit code 2. */
export function usageError(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}
