import { AppError } from '../errors';
import { parseDay } from '../domain/dates';

/** Path and query parameters: strict, with errors that name the parameter. */
const MAX_INT = 2147483647;

/** A path id: malformed is 400, well-formed but beyond any row is 404. */
export function pathId(raw: string, max = MAX_INT): number {
  if (!/^\d{1,20}$/.test(raw) || /^0+$/.test(raw)) throw new AppError('invalid_id', `The id ${JSON.stringify(raw.slice(0, 40))} is not a positive integer.`);
  const id = Number(raw);
  if (id > max) throw new AppError('not_found', `Nothing has id ${raw}.`);
  return id;
}

export class Query {
  private readonly values = new Map<string, string>();

  constructor(raw: string, allowed: readonly string[]) {
    for (const [key, value] of new URLSearchParams(raw)) {
      if (!allowed.includes(key)) throw invalid(`Unknown query parameter ${JSON.stringify(key.slice(0, 40))}; accepted: ${allowed.join(', ')}.`);
      if (this.values.has(key)) throw invalid(`The query parameter ${key} is given twice.`);
      this.values.set(key, value);
    }
  }

  integer(key: string, { min, max, fallback }: { min: number; max: number; fallback?: number }): number | undefined {
    const raw = this.values.get(key);
    if (raw === undefined) return fallback;
    const value = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
    if (!(value >= min && value <= max)) throw invalid(`${key} must be an integer from ${min} to ${max}.`);
    return value;
  }

  day(key: string): string | undefined {
    const raw = this.values.get(key);
    if (raw === undefined) return undefined;
    const day = parseDay(raw);
    if (day === undefined) throw invalid(`${key} must be a date in the form DD.MM.YY, DD/MM/YY or YYYY-MM-DD.`);
    return day;
  }

  boolean(key: string): boolean {
    const raw = this.values.get(key);
    if (raw === undefined || raw === 'false') return false;
    if (raw === 'true' || raw === '') return true;
    throw invalid(`${key} must be true or false.`);
  }
}

const invalid = (message: string) => new AppError('invalid_query', message);
