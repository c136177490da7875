// Appendix D single-value binary serialization (manifest bounds, partition summaries) and the
// truncation rules for string bounds. Pure: no I/O.

import { SpecViolationError } from '../../core/errors.js';
import type { PartitionValue } from './partition.js';
import { decimalParts, type PrimitiveType } from './types.js';
import { decimalBytes } from './transform.js';

const encoder = new TextEncoder();
// ignoreBOM: a bound starting with U+FEFF is a value, not a byte-order mark.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function fixed(size: number, write: (view: DataView) => void): Uint8Array {
  const out = new Uint8Array(size);
  write(new DataView(out.buffer));
  return out;
}

export function encodeValue(type: PrimitiveType, value: unknown): Uint8Array {
  switch (type) {
    case 'boolean':
      return Uint8Array.of(value === true ? 1 : 0);
    case 'int':
    case 'date':
      return fixed(4, (v) => v.setInt32(0, value as number, true));
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
    case 'timestamp_ns':
    case 'timestamptz_ns':
      return fixed(8, (v) => v.setBigInt64(0, BigInt(value as bigint), true));
    case 'float':
      return fixed(4, (v) => v.setFloat32(0, value as number, true));
    case 'double':
      return fixed(8, (v) => v.setFloat64(0, value as number, true));
    case 'string':
      return encoder.encode(value as string);
    case 'uuid':
    case 'binary':
      return value as Uint8Array;
    default:
      // A partition value holds the Avro fixed form (sign-extended); a bound the minimal bytes.
      if (decimalParts(type) !== undefined) return decimalBytes(value instanceof Uint8Array ? unscaledDecimal(value) : BigInt(value as bigint));
      if (type.startsWith('fixed')) return value as Uint8Array;
      throw new SpecViolationError(`no binary encoding for type ${type}`);
  }
}

export function decodeValue(type: PrimitiveType, bytes: Uint8Array): PartitionValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (n: number): void => {
    if (bytes.byteLength !== n) throw new SpecViolationError(`a ${type} bound must be ${n} bytes, found ${bytes.byteLength}`);
  };
  switch (type) {
    case 'boolean':
      need(1);
      return bytes[0] !== 0;
    case 'int':
    case 'date':
      need(4);
      return view.getInt32(0, true);
    case 'long':
      // A column widened from int keeps its older files' 4-byte bounds (as Java's Conversions reads them).
      if (bytes.byteLength === 4) return BigInt(view.getInt32(0, true));
      need(8);
      return view.getBigInt64(0, true);
    case 'time':
    case 'timestamp':
    case 'timestamptz':
    case 'timestamp_ns':
    case 'timestamptz_ns':
      need(8);
      return view.getBigInt64(0, true);
    case 'float':
      need(4);
      return view.getFloat32(0, true);
    case 'double':
      // Widened from float, as long from int.
      if (bytes.byteLength === 4) return view.getFloat32(0, true);
      need(8);
      return view.getFloat64(0, true);
    case 'string':
      return decoder.decode(bytes);
    default: {
      if (decimalParts(type) !== undefined) return unscaledDecimal(bytes);
      return bytes.slice();
    }
  }
}

/** The unscaled value of a decimal's two's-complement big-endian bytes, minimal or sign-extended. */
function unscaledDecimal(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return bytes.length > 0 && (bytes[0]! & 0x80) !== 0 ? v - (1n << BigInt(bytes.length * 8)) : v;
}

/** The first `n` code points: a valid lower bound of every string it prefixes. */
export function truncateLowerBound(value: string, n = 16): string {
  const points = Array.from(value);
  return points.length <= n ? value : points.slice(0, n).join('');
}

/**
 * An upper bound of at most `n` code points: the prefix with its last code point incremented
 * (skipping surrogates); undefined when every code point is U+10FFFF (no bound exists).
 */
export function truncateUpperBound(value: string, n = 16): string | undefined {
  const points = Array.from(value);
  if (points.length <= n) return value;
  const prefix = points.slice(0, n);
  for (let i = prefix.length - 1; i >= 0; i--) {
    let cp = prefix[i]!.codePointAt(0)! + 1;
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xe000;
    if (cp <= 0x10ffff) return prefix.slice(0, i).join('') + String.fromCodePoint(cp);
  }
  return undefined;
}

/** The first `n` bytes: a valid lower bound for binary. */
export function truncateBinaryLowerBound(value: Uint8Array, n = 16): Uint8Array {
  return value.length <= n ? value : value.subarray(0, n);
}

/** Prefix with its last non-0xFF byte incremented; undefined if none. */
export function truncateBinaryUpperBound(value: Uint8Array, n = 16): Uint8Array | undefined {
  if (value.length <= n) return value;
  const out = value.slice(0, n);
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! !== 0xff) {
      out[i]! += 1;
      return out.subarray(0, i + 1);
    }
  }
  return undefined;
}

/** Orders values of one type: numbers (-0 before 0), bigints, strings by code point, bytes unsigned. */
export function compareValues(a: PartitionValue, b: PartitionValue): number {
  // Iceberg orders -0 before 0 (Appendix D), where === says they are equal.
  if (a === 0 && b === 0) return Object.is(a, b) ? 0 : Object.is(a, -0) ? -1 : 1;
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  }
  if (typeof a === 'string' && typeof b === 'string') {
    // UTF-8 byte order equals code point order; JS < compares UTF-16 units.
    return Buffer.compare(Buffer.from(a), Buffer.from(b));
  }
  return (a as number | bigint) < (b as number | bigint) ? -1 : (a as number | bigint) > (b as number | bigint) ? 1 : 0;
}
