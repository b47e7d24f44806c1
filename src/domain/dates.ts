/**
 * Booking days. Accepted: DD.MM.YY and DD/MM/YY (two-digit years are 20YY: 00-99 is 2000-2099)
 * and ISO YYYY-MM-DD. The Rust original parsed with chrono's %y, which reads 70-99 as 1970-1999
 * (days it refuses as past); here they are 2070-2099, bookable. A day is kept as its ISO string:
 * it sorts and compares as text and PostgreSQL reads it as a date.
 */
const shortForm = /^(\d{2})[./](\d{2})[./](\d{2})$/;
const isoForm = /^(\d{4})-(\d{2})-(\d{2})$/;

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  return month === 2 ? (isLeapYear(year) ? 29 : 28) : [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;

export function isoDay(year: number, month: number, day: number): string | undefined {
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}`;
}

/** The ISO day for an accepted input, or undefined for anything else (including 31.02.27). */
export function parseDay(input: string): string | undefined {
  let match = shortForm.exec(input);
  if (match) {
    // DD.MM.YY needs the same separator twice: 01.02/27 is a typo, not a date.
    if (input[2] !== input[5]) return undefined;
    return isoDay(2000 + Number(match[3]), Number(match[2]), Number(match[1]));
  }
  match = isoForm.exec(input);
  return match ? isoDay(Number(match[1]), Number(match[2]), Number(match[3])) : undefined;
}

/** The ISO day `days` after `day` (negative: before). */
export function addDays(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

/** Whole days from `from` to `to` (to - from). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/**
 * Today in a time zone, as an ISO day. Formatting a date in a zone costs microseconds, so the
 * answer is kept for the whole second it was made in: a day boundary is seen within one second.
 * A clock set back (NTP correcting a clock that ran ahead) leaves that second too: kept until
 * the clock reached its end again, a day made a year ahead was today for a year.
 * The day is put together from its parts, not taken as a locale's whole pattern: en-CA's
 * pattern is locale data, and ICU 72 (CLDR 42) wrote it 12/2/2026 (nodejs/node#45945), which
 * compares after every ISO day (past days bookable) and is no date for the availability range.
 */
export function createTodayClock(timeZone: string, now: () => number = Date.now): () => string {
  const format = new Intl.DateTimeFormat('en-US-u-ca-gregory-nu-latn', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  let today = '';
  let validFrom = 0;
  let validUntil = 0;
  return () => {
    const time = now();
    if (time >= validUntil || time < validFrom) {
      const parts: Record<string, string> = {};
      for (const part of format.formatToParts(time)) parts[part.type] = part.value;
      today = `${parts.year}-${parts.month}-${parts.day}`;
      validFrom = time - (time % 1000);
      validUntil = validFrom + 1000;
    }
    return today;
  };
}
