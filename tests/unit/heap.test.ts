import { workerExecArgv } from '../../src/heap';

describe('workerExecArgv', () => {
  test('adds the heap growth bound to the primary\'s own node options', () => {
    expect(workerExecArgv([])).toEqual(['--heap-growing-percent=50']);
    expect(workerExecArgv(['--enable-source-maps'])).toEqual(['--enable-source-maps', '--heap-growing-percent=50']);
  });

  test.each([
    [['--heap-growing-percent=80']],
    [['--heap_growing_percent=80']],
    [['--heap-growing-percent', '80']],
  ])('leaves a bound the operator gave as it is: %j', (given) => {
    expect(workerExecArgv(given)).toEqual(given);
  });

  test('a flag that merely starts alike is not the bound', () => {
    expect(workerExecArgv(['--heap-growing-percentage=3'])).toEqual(['--heap-growing-percentage=3', '--heap-growing-percent=50']);
  });
});
