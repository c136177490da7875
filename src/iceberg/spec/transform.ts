// Partition transforms (format/spec.md §Partition Transforms, Appendix B for bucket hashing):
// result types, values, and the Hive-style partition path of a tuple. Pure: no I/O.

import { SpecViolationError } from '../../core/errors.js';
import type { PartitionSpec, PartitionTuple, PartitionValue, Transform } from './partition.js';
import { decimalParts, isStruct, type NestedField, type PrimitiveType, type Schema, type StructType } from './types.js';

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** MurmurHash3 x86 32-bit, returned signed like Java's Guava (the spec's reference). */
export function murmur3x86_32(bytes: Uint8Array, seed = 0): number {
  let h = seed >>> 0;
  const n = bytes.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = n & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2]! << 16;
    if (tail >= 2) k ^= bytes[blocks + 1]! << 8;
    k ^= bytes[blocks]!;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

function longBytesLE(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, BigInt.asIntN(64, value), true);
  return out;
}

/** Minimal two's-complement big-endian bytes of an unscaled decimal (Appendix B). */
export function decimalBytes(unscaled: bigint): Uint8Array {
  const bytes: number[] = [];
  let v = unscaled;
  for (;;) {
    bytes.unshift(Number(BigInt.asUintN(8, v)));
    const rest = v >> 8n;
    const sign = (bytes[0]! & 0x80) !== 0;
    if ((rest === 0n && !sign) || (rest === -1n && sign)) break;
    v = rest;
  }
  return Uint8Array.from(bytes);
}

function uuidBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  const hex = String(value).replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new SpecViolationError(`not a UUID: ${String(value)}`);
  return Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16)));
}

/** The spec's hash input for a value of the source type. */
export function bucketHash(source: PrimitiveType, value: unknown): number {
  switch (source) {
    case 'int':
    case 'date':
      return murmur3x86_32(longBytesLE(BigInt(value as number)));
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      return murmur3x86_32(longBytesLE(BigInt(value as bigint)));
    case 'timestamp_ns':
    case 'timestamptz_ns':
      // Hashed as microseconds so ns and µs columns bucket alike (spec: "hash as microseconds"),
      // floored before the epoch as Java's DateTimeUtil.nanosToMicros.
      return murmur3x86_32(longBytesLE(micros(source, value)));
    case 'string':
      return murmur3x86_32(new TextEncoder().encode(value as string));
    case 'uuid':
      return murmur3x86_32(uuidBytes(value));
    case 'binary':
      return murmur3x86_32(value as Uint8Array);
    default:
      if (decimalParts(source) !== undefined) return murmur3x86_32(decimalBytes(BigInt(value as bigint)));
      if (source.startsWith('fixed')) return murmur3x86_32(value as Uint8Array);
      throw new SpecViolationError(`bucket transform does not apply to ${source}`);
  }
}

const MICROS_PER_HOUR = 3_600_000_000n;
const MICROS_PER_DAY = 86_400_000_000n;

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function micros(source: PrimitiveType, value: unknown): bigint {
  if (source === 'timestamp_ns' || source === 'timestamptz_ns') return floorDiv(BigInt(value as bigint), 1000n);
  return BigInt(value as bigint);
}

function daysOf(source: PrimitiveType, value: unknown): number {
  if (source === 'date') return value as number;
  return Number(floorDiv(micros(source, value), MICROS_PER_DAY));
}

function civil(days: number): { year: number; month: number } {
  const d = new Date(days * 86_400_000);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1 };
}

export function transformResultType(t: Transform, source: PrimitiveType): PrimitiveType {
  switch (t.kind) {
    case 'identity':
    case 'truncate':
    case 'void':
      return source;
    case 'bucket':
    case 'year':
    case 'month':
    case 'hour':
      return 'int';
    case 'day':
      return 'date';
  }
}

function truncateString(value: string, width: number): string {
  return Array.from(value).slice(0, width).join('');
}

export function applyTransform(t: Transform, source: PrimitiveType, value: unknown): PartitionValue {
  if (value === null || value === undefined) return null;
  switch (t.kind) {
    case 'identity':
      return value as PartitionValue;
    case 'void':
      return null;
    case 'bucket':
      return (bucketHash(source, value) & 0x7fffffff) % t.numBuckets;
    case 'truncate':
      if (source === 'int') return (value as number) - ((((value as number) % t.width) + t.width) % t.width);
      if (source === 'long') return BigInt(value as bigint) - ((BigInt(value as bigint) % BigInt(t.width)) + BigInt(t.width)) % BigInt(t.width);
      if (source === 'string') return truncateString(value as string, t.width);
      if (source === 'binary') return (value as Uint8Array).subarray(0, t.width);
      throw new SpecViolationError(`truncate does not apply to ${source}`);
    case 'day':
      return daysOf(source, value);
    case 'hour':
      if (source === 'date') throw new SpecViolationError('hour transform does not apply to date');
      return Number(floorDiv(micros(source, value), MICROS_PER_HOUR));
    case 'month': {
      const { year, month } = civil(daysOf(source, value));
      return (year - 1970) * 12 + (month - 1);
    }
    case 'year':
      return civil(daysOf(source, value)).year - 1970;
  }
}

/** A field of the schema by id, searching nested structs. */
export function findField(schema: Schema | StructType, id: number): NestedField | undefined {
  for (const field of schema.fields) {
    if (field.id === id) return field;
    if (typeof field.type === 'object' && isStruct(field.type)) {
      const nested = findField(field.type, id);
      if (nested !== undefined) return nested;
    }
  }
  return undefined;
}

/** A field by dotted path of struct names (`meta.dt`). */
export function findFieldByPath(schema: Schema | StructType, path: string): NestedField | undefined {
  const [head, ...rest] = path.split('.');
  const field = schema.fields.find((f) => f.name === head);
  if (field === undefined || rest.length === 0) return field;
  return typeof field.type === 'object' && isStruct(field.type) ? findFieldByPath(field.type, rest.join('.')) : undefined;
}

/** The dotted path of a field id, for reading a row's source value. */
export function fieldPath(schema: Schema | StructType, id: number, prefix: readonly string[] = []): string[] | undefined {
  for (const field of schema.fields) {
    if (field.id === id) return [...prefix, field.name];
    if (typeof field.type === 'object' && isStruct(field.type)) {
      const nested = fieldPath(field.type, id, [...prefix, field.name]);
      if (nested !== undefined) return nested;
    }
  }
  return undefined;
}

function sourceType(schema: Schema, sourceId: number): PrimitiveType {
  const field = findField(schema, sourceId);
  if (field === undefined || typeof field.type !== 'string') {
    throw new SpecViolationError(`partition source field ${sourceId} is missing or not primitive in schema ${schema.schemaId}`);
  }
  return field.type;
}

export function partitionType(spec: PartitionSpec, schema: Schema): StructType {
  return {
    type: 'struct',
    fields: spec.fields.map((f) => ({ id: f.fieldId, name: f.name, required: false, type: transformResultType(f.transform, sourceType(schema, f.sourceId)) })),
  };
}

/** The partition tuple of a row (plain object per the value conventions). */
export function partitionTupleOf(spec: PartitionSpec, schema: Schema, row: Readonly<Record<string, unknown>>): PartitionTuple {
  return spec.fields.map((f) => {
    let value: unknown = row;
    for (const name of fieldPath(schema, f.sourceId) ?? []) value = value === null || value === undefined ? undefined : (value as Record<string, unknown>)[name];
    return applyTransform(f.transform, sourceType(schema, f.sourceId), value);
  });
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** Human form of a partition value, as Java writes it in paths. */
export function partitionValueToString(t: Transform, type: PrimitiveType, value: PartitionValue): string {
  if (value === null) return 'null';
  if (t.kind === 'day' || (t.kind === 'identity' && type === 'date')) return new Date((value as number) * 86_400_000).toISOString().slice(0, 10);
  if (t.kind === 'hour') {
    const d = new Date((value as number) * 3_600_000);
    return `${d.toISOString().slice(0, 10)}-${pad(d.getUTCHours())}`;
  }
  if (t.kind === 'month') return `${1970 + Math.floor((value as number) / 12)}-${pad((((value as number) % 12) + 12) % 12 + 1)}`;
  if (t.kind === 'year') return String(1970 + (value as number));
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return String(value);
}

export function partitionPath(spec: PartitionSpec, schema: Schema, tuple: PartitionTuple): string {
  return spec.fields
    .map((f, i) => `${encodeURIComponent(f.name)}=${encodeURIComponent(partitionValueToString(f.transform, sourceType(schema, f.sourceId), tuple[i] ?? null))}`)
    .join('/');
}
