import { fail } from './errors';

/**
 * A parser from untrusted JSON to a typed value. Throws `invalid_data` naming the
 * field. Parsers only read the fields they declare, so hostile shapes (deep nesting,
 * `__proto__` keys) cost nothing beyond JSON.parse itself.
 */
export type Schema<T> = (value: unknown, field: string) => T;

/** The type a schema produces. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

/** A string, trimmed when asked, with a length range counted in characters. */
/** Control, format (zero-width, bidi overrides) and line/paragraph separator characters: invisible or disruptive in a one-line label. */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/**
 * A string of `min`..`max` code points. Every string must be well-formed Unicode (a lone
 * surrogate cannot be stored as UTF-8: it would come back changed) and hold no U+0000.
 * `line` (names, titles: labels people tell apart by eye): normalized to NFKC ("Ａlice" is
 * "Alice"), and control and format characters (zero-width, bidi overrides) are refused.
 */
export function str(opts: { min?: number; max: number; trim?: boolean; line?: boolean }): Schema<string> {
  const min = opts.min ?? 0;
  return (value, field) => {
    if (typeof value !== 'string') throw fail.invalid(`${field} must be a string`);
    if (!(value as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      throw fail.invalid(`${field} must be valid Unicode text (it holds a lone surrogate)`);
    }
    let text = opts.trim ? value.trim() : value;
    // PostgreSQL cannot store U+0000 (and no person types it): refused in every string alike.
    if (text.includes('\0')) throw fail.invalid(`${field} must not contain NUL characters`);
    if (opts.line) {
      if (HIDDEN.test(text)) throw fail.invalid(`${field} must not contain control or invisible formatting characters`);
      text = text.normalize('NFKC');
      if (opts.trim) text = text.trim();
    }
    // Length in code points, so an emoji counts once.
    const length = text.length > opts.max * 2 ? text.length : codePoints(text);
    if (length < min) throw fail.invalid(min === 1 ? `${field} must not be empty` : `${field} must be at least ${min} characters`);
    if (length > opts.max) throw fail.invalid(`${field} must be at most ${opts.max} characters`);
    return text;
  };
}

/** Code points in `text` (a surrogate pair counts once), without building an array per message. */
function codePoints(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        count--;
        i++;
      }
    }
  }
  return count;
}

/** An integer within [min, max]. */
export function int(opts: { min: number; max: number }): Schema<number> {
  return (value, field) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw fail.invalid(`${field} must be an integer`);
    if (value < opts.min || value > opts.max) throw fail.invalid(`${field} must be from ${opts.min} to ${opts.max}`);
    return value;
  };
}

/** A value that may be absent (undefined or null); absent yields the fallback. */
export function optional<T>(schema: Schema<T>): Schema<T | undefined>;
export function optional<T>(schema: Schema<T>, fallback: T): Schema<T>;
export function optional<T>(schema: Schema<T>, fallback?: T): Schema<T | undefined> {
  return (value, field) => (value === undefined || value === null ? fallback : schema(value, field));
}

type Shape = Record<string, Schema<unknown>>;
type FromShape<S extends Shape> = { [K in keyof S]: Infer<S[K]> };

/** An object with the given fields; other fields are ignored. A missing object reads as {}. */
export function obj<S extends Shape>(shape: S): Schema<FromShape<S>> {
  const keys = Object.keys(shape) as (keyof S & string)[];
  return (value, field) => {
    if (value === undefined || value === null) value = {};
    if (typeof value !== 'object' || Array.isArray(value)) throw fail.invalid(`${field} must be an object`);
    const source = value as Record<string, unknown>;
    const out = Object.create(null) as FromShape<S>;
    for (const key of keys) {
      const own = Object.prototype.hasOwnProperty.call(source, key) ? source[key] : undefined;
      out[key] = shape[key](own, key) as FromShape<S>[typeof key];
    }
    return out;
  };
}
