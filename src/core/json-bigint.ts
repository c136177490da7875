// Lossless JSON for 64-bit integers: Iceberg snapshot ids (e.g. 3055729675574597004) exceed 2^53,
// JSON.parse silently rounds them and JSON.stringify throws on bigint. Node 20 has neither a
// source-text reviver nor JSON.rawJSON. Imports nothing from src/.
//
// Both directions let V8's native JSON do the work, with each big integer carried as a string that
// starts with a private-use character: lossless-json's parser in JS cost about 5 ms of every
// `mwlake` start (2 ms to load, 2 ms per metadata file, interpreted). Parsing marks with the first
// such character the text does not hold; values to serialize that hold U+E000 take lossless-json,
// so no input can be misread.

import { createRequire } from 'node:module';
import type * as losslessJson from 'lossless-json';
import { JobError } from './errors.js';

const INTEGER = /^-?\d+$/;
const MARK = '\uE000';
/**
 * A whole string literal (skipped), a quote that opens none (invalid JSON), or an integer token of
 * 16 digits or more outside strings (the shortest that can pass 2^53). The look-arounds keep
 * fractions and exponents whole; a leading zero or a following colon is invalid JSON, left to
 * JSON.parse to refuse.
 */
const TOKEN = /"[^"\\]*(?:\\.[^"\\]*)*"|"|(?<![\d.eE+-])-?[1-9]\d{15,}(?![\d.eE]|\s*:)/g;
const MARKED = /"\uE000(-?\d+)"/g;

let lossless: typeof losslessJson | undefined;
// Its one-file CommonJS build, not its ESM tree of ten modules; loaded only when the fast path cannot be used.
const fallback = (): typeof losslessJson => (lossless ??= createRequire(import.meta.url)('lossless-json') as typeof losslessJson);

function parseNumber(text: string): number | bigint {
  const value = Number(text);
  if (INTEGER.test(text) && !Number.isSafeInteger(value)) return BigInt(text);
  return value;
}

/**
 * A private-use character the text holds neither raw nor escaped, so no string in it can decode to
 * a marked one: U+E000 for nearly every text, the next free one for text that holds it (wikitext
 * may). Undefined when the first 256 are all taken.
 */
function markFor(text: string): string | undefined {
  if (!text.includes(MARK) && !/\\u[eE]000/.test(text)) return MARK;
  const lower = text.toLowerCase();
  for (let code = 0xe001; code <= 0xe0ff; code++) {
    const mark = String.fromCharCode(code);
    if (!text.includes(mark) && !lower.includes(`\\u${code.toString(16)}`)) return mark;
  }
  return undefined;
}

/** The text with big integer tokens marked; undefined if a string never closes (invalid JSON). */
function markBigIntegers(text: string, mark: string): string | undefined {
  let out = '';
  let last = 0;
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m !== null; m = TOKEN.exec(text)) {
    const token = m[0];
    // Stop at the first quote that opens no string: scanning on from each later quote is quadratic.
    if (token === '"') return undefined;
    if (token.startsWith('"')) continue;
    out += `${text.slice(last, m.index)}"${mark}${token}"`;
    last = m.index + token.length;
  }
  return last === 0 ? text : out + text.slice(last);
}

/**
 * Parses JSON keeping integers outside the safe range as bigint (inside it they stay numbers).
 * `what` names the document in the error message. Duplicate keys keep the last value, as in
 * JSON.parse, Jackson and Python (lossless-json, taken only for text that holds 256 private-use
 * marks, refuses them).
 */
export function parseJsonBigInt(text: string, what = 'JSON document'): unknown {
  const mark = markFor(text);
  const marked = mark === undefined ? undefined : markBigIntegers(text, mark);
  if (marked !== undefined) {
    const revive = (_key: string, value: unknown): unknown => (typeof value === 'string' && value.startsWith(mark!) ? parseNumber(value.slice(1)) : value);
    try {
      return marked === text ? JSON.parse(text) : JSON.parse(marked, revive);
    } catch {
      // Invalid: lossless-json says so below, naming the position in the text as given (not as marked).
    }
  }
  try {
    return fallback().parse(text, null, parseNumber);
  } catch (cause) {
    throw new JobError('DATA', `${what} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

/** Serializes JSON, writing bigint values as plain JSON integers. */
export function stringifyJsonBigInt(value: unknown, indent?: number): string {
  let marked = false;
  let clash = false;
  const text = JSON.stringify(
    value,
    (key: string, v: unknown) => {
      // The key first: one holding the mark and digits would be unquoted with a bigint's mark.
      if (key.includes(MARK)) clash = true;
      if (typeof v === 'bigint') {
        marked = true;
        return MARK + v.toString();
      }
      if ((typeof v === 'string' || v instanceof String) && v.includes(MARK)) clash = true;
      return v;
    },
    indent,
  ) as string | undefined;
  const out = clash ? fallback().stringify(value, undefined, indent) : marked ? text?.replace(MARKED, '$1') : text;
  if (out === undefined) throw new JobError('INTERNAL', 'value cannot be serialized to JSON');
  return out;
}

/** Converts a parsed JSON integer (number or bigint) to bigint, naming the field on failure. */
export function toBigInt(value: unknown, field: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && INTEGER.test(value)) return BigInt(value);
  throw new JobError('DATA', `${field} must be an integer, found ${JSON.stringify(String(value))}`, { context: { field } });
}
