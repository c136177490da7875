// Lossless JSON for 64-bit integers: Iceberg snapshot ids (e.g. 3055729675574597004) exceed 2^53,
// JSON.parse silently rounds them and JSON.stringify throws on bigint. Node 20 has no
// source-text reviver, so we use lossless-json. Imports nothing from src/.

import { createRequire } from 'node:module';
import type * as losslessJson from 'lossless-json';
import { JobError } from './errors.js';

// Its one-file CommonJS build, not its ESM tree of ten modules: 4 ms less at every start.
const { parse, stringify } = createRequire(import.meta.url)('lossless-json') as typeof losslessJson;

const INTEGER = /^-?\d+$/;

function parseNumber(text: string): number | bigint {
  const value = Number(text);
  if (INTEGER.test(text) && !Number.isSafeInteger(value)) return BigInt(text);
  return value;
}

/**
 * Parses JSON keeping integers outside the safe range as bigint (inside it they stay numbers).
 * `what` names the document in the error message.
 */
export function parseJsonBigInt(text: string, what = 'JSON document'): unknown {
  try {
    return parse(text, null, parseNumber);
  } catch (cause) {
    throw new JobError('DATA', `${what} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

/** Serializes JSON, writing bigint values as plain JSON integers. */
export function stringifyJsonBigInt(value: unknown, indent?: number): string {
  const text = stringify(value, undefined, indent);
  if (text === undefined) throw new JobError('INTERNAL', 'value cannot be serialized to JSON');
  return text;
}

/** Converts a parsed JSON integer (number or bigint) to bigint, naming the field on failure. */
export function toBigInt(value: unknown, field: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && INTEGER.test(value)) return BigInt(value);
  throw new JobError('DATA', `${field} must be an integer, found ${JSON.stringify(String(value))}`, { context: { field } });
}
