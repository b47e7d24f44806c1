import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lockStart } from '../../src/db/start-lock';

// Pids that play the starts: DEAD ran a start that was killed, A and B are two starts running now.
const DEAD = 4_000_001, A = 4_000_002, B = 4_000_003;
const live = (pid: number) => pid === A || pid === B;

let dataDir: string;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roombook-start-lock-'));
});
afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const lockFile = () => path.join(dataDir, 'start.lock');
const holder = () => Number(fs.readFileSync(lockFile(), 'utf8'));

test('a lock held by a live start refuses the next, naming the holder; released, it is free again', () => {
  const release = lockStart(dataDir, live, A);
  expect(() => lockStart(dataDir, live, B)).toThrow(`another roombook (pid ${A}) is starting on it`);
  release();
  expect(fs.existsSync(lockFile())).toBe(false);
  lockStart(dataDir, live, B)();
  expect(fs.readdirSync(dataDir)).toEqual([]); // no file of either start left behind
});

test('a stale lock is taken over', () => {
  fs.writeFileSync(lockFile(), `${DEAD}\n`);
  const release = lockStart(dataDir, live, B);
  expect(holder()).toBe(B);
  release();
});

test('two starts taking over one stale lock: the one that read it first and took it over second is refused', () => {
  fs.writeFileSync(lockFile(), `${DEAD}\n`);
  let releaseA: (() => void) | undefined;
  // B reads the stale lock; while it decides, A takes the same stale lock over (the window of the race).
  const judgedByB = (pid: number) => {
    if (pid === DEAD && releaseA === undefined) releaseA = lockStart(dataDir, live, A);
    return live(pid);
  };
  expect(() => lockStart(dataDir, judgedByB, B)).toThrow(`another roombook (pid ${A}) is starting on it`);
  expect(releaseA).toBeDefined();
  expect(holder()).toBe(A); // A's lock survived B's takeover attempt
  releaseA!();
  expect(fs.readdirSync(dataDir)).toEqual([]);
});
