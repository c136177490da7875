// A written Parquet file → the Iceberg DataFile that describes it, from the footer alone
// (hyparquet parses it): exact size, record count, per-leaf column sizes, value and null counts,
// and Appendix D lower/upper bounds (strings truncated to 16 characters, the upper one incremented,
// as Java's default metrics mode `truncate(16)` does; a position delete file's kept whole). Leaves map to fields by PARQUET:field_id.

import { parquetMetadata, type FileMetaData, type SchemaElement } from 'hyparquet';
import { SpecViolationError } from '../core/errors.js';
import type { Storage } from '../core/storage.js';
import { compareValues, encodeValue, truncateBinaryLowerBound, truncateBinaryUpperBound, truncateLowerBound, truncateUpperBound } from '../iceberg/spec/bounds.js';
import { DataFileContent, type DataFile } from '../iceberg/spec/manifest.js';
import type { PartitionTuple, PartitionValue } from '../iceberg/spec/partition.js';
import { isPrimitive, isStruct, type NestedField, type PrimitiveType, type Schema } from '../iceberg/spec/types.js';

/** The schema of v2 position delete files (spec §Position Delete Files). */
export const POSITION_DELETE_SCHEMA: Schema = {
  schemaId: 0,
  fields: [
    { id: 2147483546, name: 'file_path', required: true, type: 'string' },
    { id: 2147483545, name: 'pos', required: true, type: 'long' },
  ],
};

const TRUNCATE = 16;

/** Leaf field ids whose values are not repeated (inside structs only): the ones bounds are kept for. */
function boundableLeaves(fields: readonly NestedField[], out = new Map<number, PrimitiveType>()): Map<number, PrimitiveType> {
  for (const f of fields) {
    if (isPrimitive(f.type)) out.set(f.id, f.type);
    else if (isStruct(f.type)) boundableLeaves(f.type.fields, out);
  }
  return out;
}

/** Schema elements that are leaves, in column-chunk order (depth-first). */
function leafElements(schema: readonly SchemaElement[]): SchemaElement[] {
  const leaves: SchemaElement[] = [];
  let i = 1;
  const walk = (count: number) => {
    for (let n = 0; n < count; n++) {
      const el = schema[i++]!;
      if (el.num_children === undefined || el.num_children === 0) leaves.push(el);
      else walk(el.num_children);
    }
  };
  walk(schema[0]?.num_children ?? 0);
  return leaves;
}

// Raw statistic values as the model wants them: µs bigint timestamps, day-number dates.
const PARSERS = {
  timestampFromMilliseconds: (v: bigint) => v * 1000n,
  timestampFromMicroseconds: (v: bigint) => v,
  timestampFromNanoseconds: (v: bigint) => v / 1000n,
  dateFromDays: (v: number) => v,
  // Raw bytes: binary bounds need them; string bounds decode below.
  stringFromBytes: (v: Uint8Array | undefined) => v,
};

// ignoreBOM: a value starting with U+FEFF (a pasted edit summary) keeps it; stripped, its bound would be wrong.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

function boundBytes(type: PrimitiveType, value: unknown, upper: boolean, truncate = TRUNCATE): Uint8Array | undefined {
  if (value === undefined || value === null) return undefined;
  if (type === 'string') {
    const s = value instanceof Uint8Array ? utf8.decode(value) : String(value);
    const t = upper ? truncateUpperBound(s, truncate) : truncateLowerBound(s, truncate);
    return t === undefined ? undefined : encodeValue(type, t);
  }
  if (type === 'binary') {
    const b = value as Uint8Array;
    return upper ? truncateBinaryUpperBound(b, TRUNCATE) : truncateBinaryLowerBound(b, TRUNCATE);
  }
  if (type === 'float' || type === 'double') {
    if (Number.isNaN(value as number)) return undefined;
    // Writers may order ±0 as equal (DuckDB gives a row group of -0 and 0 the max -0), while
    // Iceberg orders -0 first: widen a zero bound so it covers both.
    if (value === 0) return encodeValue(type, upper ? 0 : -0);
  }
  if (type === 'int' || type === 'date') return encodeValue(type, Number(value));
  if (type === 'long' || type === 'timestamp' || type === 'timestamptz' || type === 'time') return encodeValue(type, BigInt(value as bigint));
  if (type === 'boolean' || type === 'float' || type === 'double') return encodeValue(type, value);
  return undefined;
}

export interface DescribeOptions {
  readonly storage: Storage;
  readonly location: string;
  readonly schema: Schema;
  readonly partition: PartitionTuple;
  readonly content?: DataFileContent;
  /** The table sort order the rows were written in (omitted: unknown, as for unsorted writes). */
  readonly sortOrderId?: number;
}

async function readFooter(storage: Storage, location: string): Promise<{ meta: FileMetaData; size: number }> {
  const info = await storage.stat(location);
  if (info === undefined) throw new SpecViolationError(`parquet file ${location} does not exist`);
  const tail = await storage.readRange(location, Math.max(0, info.sizeBytes - 8), Math.min(8, info.sizeBytes));
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  if (tail.byteLength < 8 || view.getUint32(4, true) !== 0x31524150) throw new SpecViolationError(`${location} is not a Parquet file (no PAR1 footer)`);
  const footerLength = view.getUint32(0, true) + 8;
  const footer = await storage.readRange(location, info.sizeBytes - footerLength, footerLength);
  return { meta: parquetMetadata(footer, { parsers: PARSERS as never }), size: info.sizeBytes };
}

export async function describeParquetFile(o: DescribeOptions): Promise<DataFile> {
  const { meta, size } = await readFooter(o.storage, o.location);
  const leaves = leafElements(meta.schema);
  const boundable = boundableLeaves(o.schema.fields);
  const columnSizes = new Map<number, number>();
  const valueCounts = new Map<number, number>();
  const nullCounts = new Map<number, number>();
  // A null count some row group left out: the column's sum would say too few, so it has none (as Java).
  const nullCountsUnknown = new Set<number>();
  const lower = new Map<number, unknown>();
  const upper = new Map<number, unknown>();
  const statsComplete = new Map<number, boolean>();
  // Statistics the writer itself truncated: only a short, incremented bound is safe from them.
  const inexact = new Set<number>();
  const splitOffsets: number[] = [];
  for (const rg of meta.row_groups) {
    const first = rg.columns[0]?.meta_data;
    if (first !== undefined) splitOffsets.push(Number(first.dictionary_page_offset ?? first.data_page_offset));
    rg.columns.forEach((chunk, i) => {
      const id = leaves[i]?.field_id;
      const md = chunk.meta_data;
      if (id === undefined || md === undefined) return;
      columnSizes.set(id, (columnSizes.get(id) ?? 0) + Number(md.total_compressed_size));
      valueCounts.set(id, (valueCounts.get(id) ?? 0) + Number(md.num_values));
      const stats = md.statistics;
      if (stats?.null_count !== undefined) nullCounts.set(id, (nullCounts.get(id) ?? 0) + Number(stats.null_count));
      else nullCountsUnknown.add(id);
      const type = boundable.get(id);
      if (type === undefined) return;
      // The deprecated min/max ordered bytes signed in old writers: wrong for non-ASCII strings and binary.
      const deprecatedOrderSafe = type !== 'string' && type !== 'binary';
      const lo = stats?.min_value ?? (deprecatedOrderSafe ? stats?.min : undefined);
      const hi = stats?.max_value ?? (deprecatedOrderSafe ? stats?.max : undefined);
      const nonNull = Number(md.num_values) - Number(stats?.null_count ?? 0);
      if (nonNull === 0) return;
      if (lo === undefined || hi === undefined) {
        statsComplete.set(id, false);
        return;
      }
      if (stats?.is_min_value_exact === false || stats?.is_max_value_exact === false) inexact.add(id);
      if (!lower.has(id) || compareStats(lo, lower.get(id)) < 0) lower.set(id, lo);
      if (!upper.has(id) || compareStats(hi, upper.get(id)) > 0) upper.set(id, hi);
    });
  }
  const lowerBounds = new Map<number, Uint8Array>();
  const upperBounds = new Map<number, Uint8Array>();
  for (const [id, type] of boundable) {
    if (statsComplete.get(id) === false) continue;
    // A position delete's file_path bounds are kept whole, as Java's MetricsConfig.forPositionDelete
    // does: equal, they tell a reader the one data file the deletes apply to.
    const truncateTo = o.schema === POSITION_DELETE_SCHEMA && !inexact.has(id) ? Infinity : TRUNCATE;
    const lo = boundBytes(type, lower.get(id), false, truncateTo);
    const hi = boundBytes(type, upper.get(id), true, truncateTo);
    if (lo !== undefined) lowerBounds.set(id, lo);
    if (hi !== undefined) upperBounds.set(id, hi);
  }
  return {
    content: o.content ?? DataFileContent.Data,
    filePath: o.location,
    fileFormat: 'PARQUET',
    partition: o.partition,
    recordCount: Number(meta.num_rows),
    fileSizeInBytes: size,
    columnSizes,
    valueCounts,
    nullValueCounts: new Map([...nullCounts].filter(([id]) => !nullCountsUnknown.has(id))),
    lowerBounds,
    upperBounds,
    ...(splitOffsets.length > 0 ? { splitOffsets } : {}),
    ...(o.sortOrderId === undefined ? {} : { sortOrderId: o.sortOrderId }),
  };
}

/** Iceberg's order (bounds.ts): strings arrive as UTF-8 bytes, whose byte order is code point order. */
const compareStats = (a: unknown, b: unknown): number => compareValues(a as PartitionValue, b as PartitionValue);

/** A position delete file (content 1); `referencedDataFile` when all its rows target that one file. */
export async function describePositionDeleteFile(o: Omit<DescribeOptions, 'schema' | 'content'> & { referencedDataFile?: string }): Promise<DataFile> {
  const file = await describeParquetFile({ ...o, schema: POSITION_DELETE_SCHEMA, content: DataFileContent.PositionDeletes });
  return o.referencedDataFile === undefined ? file : { ...file, referencedDataFile: o.referencedDataFile };
}

