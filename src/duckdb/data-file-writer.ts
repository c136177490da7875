// Writes the rows of a SQL relation as Iceberg data files of one partition: Parquet with field ids
// on every column, zstd, each described from its footer for the manifest. Unsorted rows are rolled
// at a target size (DuckDB starts a new file once the current one passes FILE_SIZE_BYTES); rows in
// the table's sort order go to one file, since DuckDB 1.5's directory output interleaves the row
// groups of an ORDER BY (checked: 7 of 25 row groups out of key order) and only a single file keeps it.

import { randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { JobError } from '../core/errors.js';
import { makeDirectory } from '../core/make-directory.js';
import { createOwnedTempDir, removedOnInterrupt } from '../core/owned-temp-dir.js';
import { joinLocation } from '../core/storage.js';
import type { DataFile } from '../iceberg/spec/manifest.js';
import type { Schema } from '../iceberg/spec/types.js';
import type { PartitionTuple } from '../iceberg/spec/partition.js';
import { partitionPath } from '../iceberg/spec/transform.js';
import type { Table } from '../iceberg/table.js';
import { writeFolderName } from '../iceberg/table-files.js';
import { describeParquetFile } from '../parquet/footer-data-file.js';
import type { DuckDb } from './connection.js';
import { fieldIdsOption, quoteIdent, sqlString, sqlStringList } from './iceberg-types.js';

/**
 * Upper bound of a row group's size: DuckDB buffers a row group whole before writing it, and
 * readers hold a column chunk whole (a 300 MB content chunk failed a 400 MB DuckDB scan).
 */
const ROW_GROUP_BYTES = 32 << 20;
/** DuckDB fills row groups in whole vectors of 2048 rows: ROW_GROUP_SIZE 2700 writes 4096. */
const VECTOR_ROWS = 2048;
/** The temporary folders of copySortedParts (core/owned-temp-dir.ts: a killed run's are removed by the next). */
const SORTED_PARTS_PREFIX = 'mwlake-sorted-';

/**
 * ROW_GROUP_SIZE for rows of about `rowBytes` each, for a COPY with ORDER BY: there DuckDB ignores
 * ROW_GROUP_SIZE_BYTES (it needs preserve_insertion_order off), so the bound is set in rows.
 */
export function rowGroupRows(rowBytes: number, maxRows = 100_000): number {
  const rows = Math.min(maxRows, Math.floor(ROW_GROUP_BYTES / Math.max(1, rowBytes)));
  return Math.max(VECTOR_ROWS, rows - (rows % VECTOR_ROWS));
}

export interface WriteDataFilesOptions {
  /** A relation with exactly the table's columns, in order. */
  readonly selectSql: string;
  readonly partition: PartitionTuple;
  readonly targetFileSizeBytes: number;
  readonly rowGroupSize?: number;
}

export async function writeDataFiles(db: DuckDb, table: Table, o: WriteDataFilesOptions): Promise<DataFile[]> {
  // A fresh directory per call: DuckDB's directory output must not meet files it did not write.
  const dirLocation = joinLocation(table.dataLocation(partitionPath(table.spec(), table.schema(), o.partition)), writeFolderName());
  const dir = table.storage.localPath(dirLocation);
  if (dir === undefined) throw new JobError('CONFIG', `DuckDB can only write local files; ${dirLocation} is not one`);
  await makeDirectory(dirname(dir));
  try {
    // Row groups bounded in bytes, not only rows: a row group is buffered whole, and 50,000 events
    // with their content are hundreds of MB. DuckDB allows that only without insertion order,
    // which data files do not need (position deletes name positions in the file as written).
    await db.run('SET preserve_insertion_order = false');
    try {
      await db.run(`COPY (${o.selectSql}) TO ${sqlString(dir)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${o.rowGroupSize ?? 50_000}, ROW_GROUP_SIZE_BYTES ${ROW_GROUP_BYTES},
        FILE_SIZE_BYTES ${Math.max(1, Math.floor(o.targetFileSizeBytes))}, FILENAME_PATTERN 'part-{i}', FIELD_IDS ${fieldIdsOption(table.schema())})`);
    } finally {
      await db.run('RESET preserve_insertion_order');
    }
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.parquet')).sort();
    const files: DataFile[] = [];
    for (const name of names) {
      const file = await describeParquetFile({ storage: table.storage, location: joinLocation(dirLocation, name), schema: table.schema(), partition: o.partition });
      if (file.recordCount > 0) files.push(file);
      else await table.storage.delete(file.filePath);
    }
    return files;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A column of the table's default sort order, as SQL can order by it. */
export interface SortColumn {
  readonly name: string;
  /** Ascending, required and integer: usable as a key of keyRanges (NULLs would fall outside every range). */
  readonly rangeKey: boolean;
  /** The ORDER BY term. */
  readonly sql: string;
}

/**
 * The table's default sort order as columns, or undefined when it is unsorted or has a field SQL
 * cannot order by as written (a transform other than identity, or a nested column).
 */
export function sortColumns(table: Table): SortColumn[] | undefined {
  const order = table.sortOrder();
  if (order.fields.length === 0) return undefined;
  const schema: Schema = table.schema();
  const columns: SortColumn[] = [];
  for (const f of order.fields) {
    const field = schema.fields.find((x) => x.id === f.sourceId);
    if (field === undefined || f.transform.kind !== 'identity' || typeof field.type !== 'string') return undefined;
    const direction = f.direction === 'asc' ? 'ASC' : 'DESC';
    const nulls = f.nullOrder === 'nulls-first' ? 'NULLS FIRST' : 'NULLS LAST';
    const rangeKey = f.direction === 'asc' && field.required && (field.type === 'int' || field.type === 'long');
    columns.push({ name: field.name, rangeKey, sql: `${quoteIdent(field.name)} ${direction} ${nulls}` });
  }
  return columns;
}

export interface WriteSortedDataFileOptions {
  /**
   * A relation with exactly the table's columns, in order; or several, holding consecutive key
   * ranges in key order, each sorted on its own so that one sort holds one range at a time.
   */
  readonly selectSql: string | readonly string[];
  readonly partition: PartitionTuple;
  /** Rows per row group, e.g. from rowGroupRows: with ORDER BY, DuckDB bounds row groups only in rows. */
  readonly rowGroupSize: number;
  /** Appended to the file's random name, to say which step wrote it. */
  readonly nameSuffix?: string;
}

/**
 * Sorted parts as one relation in their order: each sorted into a temporary file of its own, and
 * those read in turn, which DuckDB does in order (its COPY keeps insertion order). Not a UNION ALL
 * of the sorts: DuckDB ran their sorts at once and failed where each fit in memory. zstd at its
 * fastest level keeps the folder near the size of the file written (lz4 took 2.3 times that).
 */
async function copySortedParts(db: DuckDb, parts: readonly string[], order: string, rowGroups: string, copy: (from: string) => Promise<void>): Promise<void> {
  if (parts.length === 0) throw new JobError('INTERNAL', 'a sorted file from no relation');
  const dir = await createOwnedTempDir(SORTED_PARTS_PREFIX);
  const remove = removedOnInterrupt(dir);
  try {
    const files = parts.map((_, i) => join(dir, `${i}.parquet`));
    for (const [i, sql] of parts.entries()) {
      await db.run(`COPY (SELECT * FROM (${sql}) ORDER BY ${order}) TO ${sqlString(files[i]!)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, ${rowGroups})`);
    }
    // Not hive_partitioning: a temp folder below a name=value folder would add a column.
    await copy(`SELECT * FROM read_parquet(${sqlStringList(files)}, hive_partitioning = false)`);
  } finally {
    await remove();
  }
}

/**
 * The relation's rows as one data file in the table's default sort order, recording that order's
 * id on the file; undefined when the relation is empty. The caller bounds the rows: DuckDB's sort
 * holds large strings in memory.
 */
export async function writeSortedDataFile(db: DuckDb, table: Table, o: WriteSortedDataFileOptions): Promise<DataFile | undefined> {
  const columns = sortColumns(table);
  if (columns === undefined) throw new JobError('INTERNAL', `table ${table.location} has no sort order SQL can write (sort order ${table.sortOrder().orderId})`);
  const location = joinLocation(table.dataLocation(partitionPath(table.spec(), table.schema(), o.partition)), `${randomUUID()}${o.nameSuffix ?? ''}.parquet`);
  const path = table.storage.localPath(location);
  if (path === undefined) throw new JobError('CONFIG', `DuckDB can only write local files; ${location} is not one`);
  await makeDirectory(dirname(path));
  try {
    const order = columns.map((c) => c.sql).join(', ');
    const rowGroups = `ROW_GROUP_SIZE ${Math.max(1, Math.floor(o.rowGroupSize))}`;
    const copy = (from: string): Promise<void> =>
      db.run(`COPY (${from}) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd, ${rowGroups}, FIELD_IDS ${fieldIdsOption(table.schema())})`);
    const parts = typeof o.selectSql === 'string' ? [o.selectSql] : o.selectSql;
    if (parts.length === 1) await copy(`SELECT * FROM (${parts[0]}) ORDER BY ${order}`);
    else await copySortedParts(db, parts, order, rowGroups, copy);
    const file = await describeParquetFile({ storage: table.storage, location, schema: table.schema(), partition: o.partition, sortOrderId: table.sortOrder().orderId });
    if (file.recordCount > 0) return file;
    await table.storage.delete(location);
    return undefined;
  } catch (error) {
    await rm(path, { force: true });
    throw error;
  }
}
