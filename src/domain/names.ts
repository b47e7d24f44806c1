/**
 * Name normalisation, as in the Rust original: trimmed, length-checked, rooms upper-case and
 * users lower-case. Lengths count Unicode code points, as PostgreSQL's char_length does, so the
 * database CHECK constraints (sql/001_schema.sql) never disagree with this file.
 */
export const ROOM_NAME_LENGTH = { min: 3, max: 16 } as const;
export const USER_NAME_LENGTH = { min: 3, max: 34 } as const;

const printableAscii = /^[\x20-\x7e]*$/;
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/;
/**
 * Characters that show nothing, or reorder what follows them: with them "ROOM1" and "ROOM1" plus a
 * zero-width space, or a name written backwards behind a right-to-left override, would be two rooms
 * that look alike. Unicode's own list of characters that show nothing (Default_Ignorable_Code_Point:
 * zero-width spaces, soft hyphen, Hangul fillers, the combining grapheme joiner, deprecated format
 * controls...), the bidirectional controls, the line and paragraph separators, the blank Braille
 * pattern and the interlinear annotation marks; a hand-picked list let "ROOM\u034f1" pass beside
 * "ROOM1". Zero-width joiners, variation selectors and the tag characters of flag emoji (U+E0020 to
 * U+E007F) stay: some scripts and most emoji need them.
 */
const invisibleCharacter =
  /(?![\u200c\u200d\p{Variation_Selector}\u{e0020}-\u{e007f}])[\p{Default_Ignorable_Code_Point}\p{Bidi_Control}\u2028\u2029\u2800\ufff9-\ufffb]/u;

function codePointLength(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdbff) length++;
  }
  return length;
}

/**
 * Trimmed, in the case of its kind and in NFC, free of control characters, invisible characters
 * and lone surrogates; undefined if not. NFC comes after the case mapping too, which can undo it ("i\u0307" upper-cases
 * to "I\u0307", whose NFC is "\u0130"): a stored name sent back must come out of here unchanged,
 * or the name the API returned would find another room, or none (tests/unit/names.test.ts checks
 * this for every code point).
 */
function cased(raw: string, toCase: (s: string) => string): string | undefined {
  const trimmed = raw.trim();
  if (printableAscii.test(trimmed)) return toCase(trimmed); // the common case skips the Unicode work
  if (!trimmed.isWellFormed() || controlCharacter.test(trimmed) || invisibleCharacter.test(trimmed)) return undefined;
  return toCase(trimmed.normalize('NFC')).normalize('NFC').trim();
}

/** Lengths are those of the name as stored, after the case mapping (upper-casing "ß" gives "SS"). */
function normalise(raw: string, limits: { min: number; max: number }, toCase: (s: string) => string): string | undefined {
  const name = cased(raw, toCase);
  if (name === undefined) return undefined;
  const length = codePointLength(name);
  return length >= limits.min && length <= limits.max ? name : undefined;
}

export const normaliseRoomName = (raw: string): string | undefined =>
  normalise(raw, ROOM_NAME_LENGTH, (s) => s.toUpperCase());

export const normaliseUserName = (raw: string): string | undefined =>
  normalise(raw, USER_NAME_LENGTH, (s) => s.toLowerCase());
