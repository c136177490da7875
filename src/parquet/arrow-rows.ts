// Iceberg-typed JSON rows → Apache Arrow record batches whose fields carry `PARQUET:field_id`
// metadata at every level, so the Parquet writer stamps Iceberg field ids into the file schema.
// Arrow JS builders take timestamps as float milliseconds, which loses microseconds (and BigInt()
// of a float can throw), so timestamps are built as int64 microseconds and retyped afterwards.

import {
  Binary, Bool, DataType, DateDay, Field, Float32, Float64, Int32, Int64, List, Map_, RecordBatch, Schema, Struct, TimeMicrosecond, TimestampMicrosecond, Utf8,
  makeBuilder, makeData, type Data,
} from 'apache-arrow';
import { SpecViolationError } from '../core/errors.js';
import { isList, isMap, isStruct, type IcebergType, type NestedField, type Schema as IcebergSchema } from '../iceberg/spec/types.js';

const FIELD_ID = 'PARQUET:field_id';
const meta = (id: number) => new Map([[FIELD_ID, String(id)]]);

/** The Arrow type of an Iceberg type; `physical` builds timestamps as int64. */
function arrowType(type: IcebergType, physical: boolean): DataType {
  if (typeof type === 'string') {
    switch (type) {
      case 'boolean': return new Bool();
      case 'int': return new Int32();
      case 'long': return new Int64();
      case 'float': return new Float32();
      case 'double': return new Float64();
      case 'date': return new DateDay();
      case 'time': return new TimeMicrosecond();
      case 'timestamp': return physical ? new Int64() : new TimestampMicrosecond();
      case 'timestamptz': return physical ? new Int64() : new TimestampMicrosecond('UTC');
      case 'string': return new Utf8();
      case 'binary': return new Binary();
      default: throw new SpecViolationError(`the Arrow writer does not support Iceberg type ${type}`);
    }
  }
  if (isStruct(type)) return new Struct(type.fields.map((f) => arrowField(f, physical)));
  if (isList(type)) return new List(new Field('element', arrowType(type.element, physical), !type.elementRequired, meta(type.elementId)));
  if (isMap(type)) {
    const entries = new Struct([new Field('key', arrowType(type.key, physical), false, meta(type.keyId)), new Field('value', arrowType(type.value, physical), !type.valueRequired, meta(type.valueId))]);
    return new Map_(new Field('entries', entries, false), false);
  }
  throw new SpecViolationError(`the Arrow writer does not support Iceberg type ${JSON.stringify(type)}`);
}

function arrowField(f: NestedField, physical: boolean): Field {
  return new Field(f.name, arrowType(f.type, physical), !f.required, meta(f.id));
}

export function arrowSchema(schema: IcebergSchema): Schema {
  return new Schema(schema.fields.map((f) => arrowField(f, false)));
}

const ISO = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/** Microseconds since the epoch of an ISO-8601 timestamp, keeping all six fractional digits. */
export function isoToMicros(text: string): bigint {
  const m = ISO.exec(text);
  if (m === null) throw new SpecViolationError(`not an ISO-8601 timestamp: ${JSON.stringify(text)}`);
  const ms = Date.parse(`${m[1]!.replace(' ', 'T')}${m[3] ?? 'Z'}`);
  if (Number.isNaN(ms)) throw new SpecViolationError(`not a valid timestamp: ${JSON.stringify(text)}`);
  return BigInt(ms) * 1000n + BigInt((m[2] ?? '').padEnd(6, '0').slice(0, 6));
}

/** A JSON value (numbers, strings, ISO timestamps, objects for maps) in the builders' representation. */
function builderValue(type: IcebergType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof type === 'string') {
    if (type === 'long') return typeof v === 'bigint' ? v : BigInt(v as number | string);
    if (type === 'timestamp' || type === 'timestamptz') return typeof v === 'bigint' ? v : typeof v === 'string' ? isoToMicros(v) : BigInt(v as number);
    if (type === 'date') return typeof v === 'string' ? new Date(`${v}T00:00:00Z`) : new Date((v as number) * 86_400_000);
    if (type === 'binary') return typeof v === 'string' ? Buffer.from(v, 'base64') : v;
    return v;
  }
  if (isStruct(type)) {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(type.fields.map((f) => [f.name, builderValue(f.type, o[f.name])]));
  }
  if (isList(type)) return (v as unknown[]).map((e) => builderValue(type.element, e));
  if (isMap(type)) {
    const entries = v instanceof Map ? [...v.entries()] : Object.entries(v as Record<string, unknown>);
    return new Map(entries.map(([k, e]) => [builderValue(type.key, k), builderValue(type.value, e)]));
  }
  return v;
}

/** Rewraps int64 data built for timestamps as timestamp data, recursively. */
function retype(data: Data, logical: DataType): Data {
  const common = { type: logical, length: data.length, nullCount: data.nullCount, nullBitmap: data.nullBitmap, offset: data.offset } as const;
  if (logical instanceof TimestampMicrosecond) return makeData({ ...common, type: logical, data: data.values as BigInt64Array });
  if (logical instanceof Struct) return makeData({ ...common, type: logical, children: data.children.map((c, i) => retype(c, logical.children[i]!.type)) });
  if (logical instanceof List) return makeData({ ...common, type: logical, valueOffsets: data.valueOffsets as Int32Array, child: retype(data.children[0]!, logical.children[0]!.type) });
  if (logical instanceof Map_) return makeData({ ...common, type: logical, valueOffsets: data.valueOffsets as Int32Array, child: retype(data.children[0]!, logical.children[0]!.type) });
  return data;
}

/** One record batch of `rows` (objects keyed by top-level column name) in the table's Arrow schema. */
export function rowsToRecordBatch(schema: IcebergSchema, rows: readonly Record<string, unknown>[]): RecordBatch {
  const logical = arrowSchema(schema);
  const children = schema.fields.map((f, i) => {
    const builder = makeBuilder({ type: arrowType(f.type, true), nullValues: [null, undefined] });
    for (const row of rows) builder.append(builderValue(f.type, row[f.name]));
    const built = builder.finish().flush();
    if (f.required && built.nullCount > 0) throw new SpecViolationError(`required column ${f.name} has ${built.nullCount} null value(s)`);
    return retype(built, logical.fields[i]!.type);
  });
  return new RecordBatch(logical, makeData({ type: new Struct(logical.fields), length: rows.length, nullCount: 0, children }));
}
