/**
 * Name normalisation, as in the Rust original: trimmed, length-checked, rooms upper-case and
 * users lower-case. Lengths count Unicode code points, as PostgreSQL's char_length does, so the
 * database CHECK constraints (sql/001_schema.sql) never disagree with this file.
 */
export const ROOM_NAME_LENGTH = { min: 3, max: 16 } as const;
export const USER_NAME_LENGTH = { min: 3, max: 34 } as const;

const printableAscii = /^[\x20-\x7e]*$/;
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/;

function codePointLength(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdbff) length++;
  }
  return length;
}

/** Trimmed, NFC-normalised, free of control characters and lone surrogates; undefined if not. */
function clean(raw: string): string | undefined {
  const trimmed = raw.trim();
  if (printableAscii.test(trimmed)) return trimmed; // the common case skips the Unicode work
  if (!trimmed.isWellFormed() || controlCharacter.test(trimmed)) return undefined;
  return trimmed.normalize('NFC');
}

function normalise(raw: string, limits: { min: number; max: number }, toCase: (s: string) => string): string | undefined {
  const cleaned = clean(raw);
  if (cleaned === undefined) return undefined;
  const cased = toCase(cleaned).trim();
  const length = codePointLength(cased);
  return length >= limits.min && length <= limits.max ? cased : undefined;
}

export const normaliseRoomName = (raw: string): string | undefined =>
  normalise(raw, ROOM_NAME_LENGTH, (s) => s.toUpperCase());

export const normaliseUserName = (raw: string): string | undefined =>
  normalise(raw, USER_NAME_LENGTH, (s) => s.toLowerCase());
