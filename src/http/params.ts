import type { TObject, TSchema } from '@sinclair/typebox';
import { AppError } from '../errors';
import { parseDay } from '../domain/dates';
import { MAX_ID } from '../domain/schemas';

/** Path and query parameters: strict, with errors that name the parameter. */

/** A path id: malformed is 400, well-formed but beyond any row is 404. */
export function pathId(raw: string, max = MAX_ID): number {
  if (!/^\d{1,20}$/.test(raw) || /^0+$/.test(raw)) throw new AppError('invalid_id', `The id ${JSON.stringify(raw.slice(0, 40))} is not a positive integer.`);
  const id = Number(raw);
  if (id > max) throw new AppError('not_found', `Nothing has id ${raw}.`);
  return id;
}

interface IntegerRange {
  min: number;
  max: number;
  fallback?: number;
}

/**
 * The query string of one request. Given a TypeBox object (src/domain/schemas.ts), its
 * properties are the accepted names and an integer's range and default come from there.
 */
export class Query {
  private readonly values = new Map<string, string>();
  private readonly declared: Record<string, TSchema> | undefined;

  constructor(raw: string, accepted: readonly string[] | TObject) {
    this.declared = 'properties' in accepted ? accepted.properties : undefined;
    const allowed = 'properties' in accepted ? Object.keys(accepted.properties) : accepted;
    for (const [key, value] of new URLSearchParams(raw)) {
      if (!allowed.includes(key)) throw invalid(`Unknown query parameter ${JSON.stringify(key.slice(0, 40))}; accepted: ${allowed.join(', ')}.`);
      if (this.values.has(key)) throw invalid(`The query parameter ${key} is given twice.`);
      this.values.set(key, value);
    }
  }

  integer(key: string, range: IntegerRange = this.declaredRange(key)): number | undefined {
    const { min, max, fallback } = range;
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

  private declaredRange(key: string): IntegerRange {
    const schema = this.declared?.[key];
    if (schema?.type !== 'integer') throw new Error(`query parameter ${key} is not declared as an integer`); // a bug, not input
    return { min: schema.minimum, max: schema.maximum, fallback: schema.default };
  }

  boolean(key: string): boolean {
    const raw = this.values.get(key);
    if (raw === undefined || raw === 'false') return false;
    if (raw === 'true' || raw === '') return true;
    throw invalid(`${key} must be true or false.`);
  }
}

const invalid = (message: string) => new AppError('invalid_query', message);
