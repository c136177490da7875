// Simple predicates for scan planning (a conjunction of column-vs-literal tests), evaluated
// conservatively against what a manifest entry knows: partition values (through the transform)
// and column bounds and null counts. `false` means no row of the file can match; `true` means
// the file must be read. Literals use the Iceberg value representation: long and timestamps as
// bigint (microseconds), int and date as number (days), strings, booleans, decimals as the
// unscaled bigint, binary/fixed/uuid as Uint8Array; a literal of another type is an error.

import { compareValues, decodeValue } from '../spec/bounds.js';
import type { DataFile } from '../spec/manifest.js';
import type { PartitionSpec, PartitionValue } from '../spec/partition.js';
import { applyTransform, findFieldByPath, transformResultType } from '../spec/transform.js';
import { decimalParts, isPrimitive, type PrimitiveType, type Schema } from '../spec/types.js';
import { SpecViolationError } from '../../core/errors.js';

export type Predicate =
  | { readonly column: string; readonly op: 'eq' | 'lt' | 'lte' | 'gt' | 'gte'; readonly value: PartitionValue }
  | { readonly column: string; readonly op: 'in'; readonly values: readonly PartitionValue[] }
  | { readonly column: string; readonly op: 'isNull' | 'notNull' };

interface Bound {
  readonly id: number;
  readonly type: PrimitiveType;
  readonly p: Predicate;
}

const isNaNValue = (v: PartitionValue | undefined) => typeof v === 'number' && Number.isNaN(v);

/** What a literal of the column type must be; compareValues orders values of other types arbitrarily. */
function literalKind(type: PrimitiveType): { readonly fits: (v: PartitionValue) => boolean; readonly what: string } {
  const integer = (v: PartitionValue) => typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
  if (type === 'boolean') return { fits: (v) => typeof v === 'boolean', what: 'a boolean' };
  if (type === 'float' || type === 'double') return { fits: (v) => typeof v === 'number', what: 'a number' };
  if (type === 'string') return { fits: (v) => typeof v === 'string', what: 'a string' };
  if (type === 'uuid' || type === 'binary' || type.startsWith('fixed')) return { fits: (v) => v instanceof Uint8Array, what: 'a Uint8Array' };
  if (type === 'int' || type === 'date') return { fits: integer, what: type === 'date' ? 'an integer (days since 1970-01-01)' : 'an integer' };
  if (decimalParts(type) !== undefined) return { fits: integer, what: 'an integer (the unscaled value)' };
  return { fits: integer, what: type.endsWith('_ns') ? 'a bigint (nanoseconds)' : type.startsWith('timestamp') || type === 'time' ? 'a bigint (microseconds)' : 'a bigint' };
}

function bind(schema: Schema, p: Predicate): Bound {
  const field = findFieldByPath(schema, p.column);
  if (field === undefined) throw new SpecViolationError(`predicate column ${JSON.stringify(p.column)} is not in schema ${schema.schemaId}`);
  if (!isPrimitive(field.type)) throw new SpecViolationError(`predicate column ${p.column} is not a primitive column`);
  // NaN compares as equal to everything in compareValues; Java's Literals.from refuses it too.
  const literals = 'value' in p ? [p.value] : 'values' in p ? p.values : [];
  if (literals.some(isNaNValue)) throw new SpecViolationError(`predicate on ${p.column} compares with NaN, which orders with nothing`);
  const kind = literalKind(field.type);
  const bad = literals.find((v) => v !== null && !kind.fits(v));
  if (bad !== undefined) {
    const shown = typeof bad === 'bigint' ? `${bad}n` : bad instanceof Uint8Array ? 'a Uint8Array' : JSON.stringify(bad);
    throw new SpecViolationError(`predicate on ${p.column} (${field.type}) needs ${kind.what} literal, found ${shown}`);
  }
  return { id: field.id, type: field.type, p };
}

function coerce(type: PrimitiveType, v: PartitionValue): PartitionValue {
  if (v === null) return null;
  if ((type === 'long' || type.startsWith('timestamp')) && typeof v === 'number') return BigInt(v);
  // literalKind accepts bigints here, but int and date values (and their transforms) are numbers.
  if ((type === 'int' || type === 'date') && typeof v === 'bigint') return Number(v);
  // A float column holds 32-bit values: 0.1 means 0.1f there (Java's Literal.to(FloatType), DuckDB's cast).
  if (type === 'float' && typeof v === 'number') return Math.fround(v);
  return v;
}

/** Whether some value in [lo, hi] can satisfy the predicate (either end unknown: undefined). */
function rangeMayMatch(p: Predicate, type: PrimitiveType, lo: PartitionValue | undefined, hi: PartitionValue | undefined): boolean {
  const cmp = (a: PartitionValue, b: PartitionValue) => compareValues(coerce(type, a), coerce(type, b));
  switch (p.op) {
    case 'eq':
      return p.value !== null && (lo === undefined || cmp(p.value, lo) >= 0) && (hi === undefined || cmp(p.value, hi) <= 0);
    case 'lt':
      return p.value !== null && (lo === undefined || cmp(lo, p.value) < 0);
    case 'lte':
      return p.value !== null && (lo === undefined || cmp(lo, p.value) <= 0);
    case 'gt':
      return p.value !== null && (hi === undefined || cmp(hi, p.value) > 0);
    case 'gte':
      return p.value !== null && (hi === undefined || cmp(hi, p.value) >= 0);
    case 'in':
      return p.values.some((v) => rangeMayMatch({ column: p.column, op: 'eq', value: v }, type, lo, hi));
    default:
      return true;
  }
}

function boundsMayMatch(b: Bound, file: DataFile): boolean {
  const nulls = file.nullValueCounts?.get(b.id);
  const values = file.valueCounts?.get(b.id);
  if (b.p.op === 'isNull') return nulls === undefined || nulls > 0;
  if (b.p.op === 'notNull') return nulls === undefined || values === undefined || nulls < values;
  if (nulls !== undefined && values !== undefined && values > 0 && nulls === values) return false; // only nulls
  const bound = (bytes: Uint8Array | undefined) => {
    const v = bytes === undefined ? undefined : decodeValue(b.type, bytes);
    // A NaN bound (older writers) bounds nothing: Java's InclusiveMetricsEvaluator ignores it too.
    return isNaNValue(v) ? undefined : v;
  };
  return rangeMayMatch(b.p, b.type, bound(file.lowerBounds?.get(b.id)), bound(file.upperBounds?.get(b.id)));
}

function partitionMayMatch(b: Bound, spec: PartitionSpec, file: DataFile): boolean {
  for (const [i, field] of spec.fields.entries()) {
    if (field.sourceId !== b.id) continue;
    const t = field.transform;
    const raw = file.partition[i] ?? null;
    // Decimal partition values are the bytes of the unscaled value; literals are the unscaled bigint.
    const resultType = transformResultType(t, b.type);
    const value = raw instanceof Uint8Array && decimalParts(resultType) !== undefined ? decodeValue(resultType, raw) : raw;
    const p = b.p;
    if (t.kind === 'void') continue;
    if (p.op === 'isNull') {
      if (value !== null && t.kind !== 'bucket') return false;
      continue;
    }
    if (p.op === 'notNull') continue;
    if (value === null) return false; // a comparison never holds for null
    if (isNaNValue(value)) continue; // orders with nothing in compareValues: keep the file
    const tr = (v: PartitionValue) => applyTransform(t, b.type, coerce(b.type, v));
    if (t.kind === 'bucket') {
      // Only equality survives hashing.
      if (p.op === 'eq' && compareValues(tr(p.value), value) !== 0) return false;
      if (p.op === 'in' && !p.values.some((v) => compareValues(tr(v), value) === 0)) return false;
      continue;
    }
    // identity, truncate and the time transforms are monotonic: compare transformed literals,
    // loosening strict comparisons (several source values share a transformed value).
    const loose = t.kind !== 'identity';
    const eq = (v: PartitionValue) => v !== null && compareValues(tr(v), value) === 0;
    if (p.op === 'eq' && !eq(p.value)) return false;
    if (p.op === 'in' && !p.values.some(eq)) return false;
    if (p.op === 'lt' && p.value !== null && compareValues(value, tr(p.value)) > (loose ? 0 : -1)) return false;
    if (p.op === 'lte' && p.value !== null && compareValues(value, tr(p.value)) > 0) return false;
    if (p.op === 'gt' && p.value !== null && compareValues(value, tr(p.value)) < (loose ? 0 : 1)) return false;
    if (p.op === 'gte' && p.value !== null && compareValues(value, tr(p.value)) < 0) return false;
  }
  return true;
}

/** A file filter for planFiles: keeps the files where every predicate may hold. */
export function predicateFilter(schema: Schema, specs: readonly PartitionSpec[], predicates: readonly Predicate[]): (file: DataFile, specId: number) => boolean {
  const bound = predicates.map((p) => bind(schema, p));
  return (file, specId) => {
    const spec = specs.find((s) => s.specId === specId);
    return bound.every((b) => boundsMayMatch(b, file) && (spec === undefined || partitionMayMatch(b, spec, file)));
  };
}
