import { parseOptions, type OptionSpec } from '../../bench/lib/args';

/** The bench scripts' command lines: a mistake stops with one line and exit code 2, no stack. */
const spec = {
  duration: { value: 10, help: 'seconds', min: 1, whole: true },
  warmup: { value: 5, help: 'seconds', whole: true },
  share: { value: 0.5, help: 'a fraction' },
  tool: { value: '', help: 'wrk or autocannon', choices: ['wrk', 'autocannon'] },
  'keep-bookings': { value: false, help: 'flag' },
} satisfies Record<string, OptionSpec>;

/** Runs parseOptions with process.exit and stderr caught: the options, or the exit code and message. */
function parse(argv: string[]): { options?: Record<string, unknown>; exitCode?: number; message: string } {
  let message = '';
  const write = jest.spyOn(process.stderr, 'write').mockImplementation((text) => { message += String(text); return true; });
  const exit = jest.spyOn(process, 'exit').mockImplementation((code) => { throw Object.assign(new Error('exit'), { exitCode: code }); });
  try {
    return { options: parseOptions(argv, spec, 'usage'), message };
  } catch (error) {
    return { exitCode: (error as { exitCode?: number }).exitCode, message };
  } finally {
    write.mockRestore();
    exit.mockRestore();
  }
}

test('values in range are taken, in both spellings', () => {
  expect(parse(['--duration', '2', '--warmup=0', '--share', '0.25', '--tool', 'autocannon', '--keep-bookings']).options)
    .toEqual({ duration: 2, warmup: 0, share: 0.25, tool: 'autocannon', 'keep-bookings': true });
});

test.each([
  [['--duration', '0'], '--duration must be a whole number >= 1, not 0'],
  [['--duration', '-1'], '--duration must be a whole number >= 1, not -1'],
  [['--duration', '1.5'], '--duration must be a whole number >= 1, not 1.5'], // wrk takes whole seconds only
  [['--duration='], '--duration must be a whole number >= 1, not '],
  [['--warmup', 'abc'], '--warmup must be a whole number >= 0, not abc'],
  [['--share', '-0.1'], '--share must be a number >= 0, not -0.1'],
  [['--tool', 'ab'], '--tool must be one of wrk, autocannon, not ab'],
  [['--bogus'], 'unknown argument --bogus (see --help)'],
  [['--duration'], '--duration needs a value'],
])('%j stops with exit code 2 and says why', (argv, expected) => {
  expect(parse(argv)).toEqual({ exitCode: 2, message: `${expected}\n` });
});
