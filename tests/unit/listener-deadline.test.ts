import { withDeadline } from '../../src/db/deadline';

/**
 * The listener's deadline (src/db/listen.ts): 5 s without progress. A reload that reports a page
 * every 2 s runs as long as it needs; one that stops reporting fails 5 s after its last page.
 */
beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

const tick = (ms: number) => jest.advanceTimersByTimeAsync(ms);

test('a reload that keeps reporting pages is not cut off, however long it runs', async () => {
  const outcome = withDeadline((progress) => new Promise<number>((resolve) => {
    const pages = setInterval(progress, 2000);
    setTimeout(() => { clearInterval(pages); resolve(6); }, 12_000);
  }), 'cache reload');
  const settled = jest.fn();
  outcome.then(settled, settled);
  await tick(12_000);
  expect(settled).toHaveBeenCalledWith(6);
});

test('a reload that stops reporting fails 5 s after its last page', async () => {
  const outcome = withDeadline((progress) => new Promise<number>(() => {
    setTimeout(progress, 3000); // one page at 3 s, then nothing
  }), 'cache reload');
  const failed = jest.fn();
  outcome.catch(failed);
  await tick(7900);
  expect(failed).not.toHaveBeenCalled(); // 4.9 s after the page
  await tick(200);
  expect(failed).toHaveBeenCalledWith(expect.objectContaining({ message: 'cache reload made no progress for 5000 ms' }));
});

test('a plain promise still has 5 s in all', async () => {
  const failed = jest.fn();
  withDeadline(new Promise(() => {}), 'ping').catch(failed);
  await tick(4900);
  expect(failed).not.toHaveBeenCalled();
  await tick(200);
  expect(failed).toHaveBeenCalledWith(expect.objectContaining({ message: 'ping made no progress for 5000 ms' }));
});
