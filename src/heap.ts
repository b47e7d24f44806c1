/**
 * How far a worker's old generation may grow past what its last full GC kept, before the next one.
 *
 * V8 picks that factor itself, up to 4x when its full GCs look cheap, which they are here. A worker
 * with 100,000 rooms and 100,000 users cached keeps ~22 MB after a full GC; under 15 s of fresh
 * bookings (--trace-gc) it was left to gather 50-70 MB of garbage before the next, and its resident
 * memory went to 160-188 MB, or stayed near 140 MB, depending on when its first full GC came. At
 * 1.5x it stayed at 135-137 MB, run after run.
 */
const HEAP_GROWING_PERCENT = 50;
const FLAG = /^--heap[-_]growing[-_]percent(?:=|$)/;

/**
 * The node options workers start with: the primary's own, plus the heap growth bound. A bound the
 * operator gave (`node --heap-growing-percent=N dist/src/main.js`; NODE_OPTIONS does not take
 * V8's heap flags) is theirs.
 */
export function workerExecArgv(primaryExecArgv: readonly string[]): string[] {
  if (primaryExecArgv.some((arg) => FLAG.test(arg))) return [...primaryExecArgv];
  return [...primaryExecArgv, `--heap-growing-percent=${HEAP_GROWING_PERCENT}`];
}
