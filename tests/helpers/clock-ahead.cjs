/**
 * Preloaded into a roombook (`node --require`, which its workers inherit): Date.now runs a year
 * ahead until the file named by CLOCK_CORRECTED_FILE exists, then is right again, as a clock that
 * ran ahead is when NTP sets it back. The file is looked for at most every 50 ms.
 */
const fs = require('node:fs');

const YEAR_MS = 365 * 86_400_000;
const file = process.env.CLOCK_CORRECTED_FILE;
const realNow = Date.now;
let corrected = false;
let checkedAt = 0;

Date.now = () => {
  const now = realNow();
  if (!corrected && now - checkedAt >= 50) {
    checkedAt = now;
    corrected = fs.existsSync(file);
  }
  return corrected ? now : now + YEAR_MS;
};
