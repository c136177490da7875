// Writes the rows of a SQL relation as Iceberg data files of one partition: Parquet with field ids
// on every column, zstd, rolled at a target size (DuckDB starts a new file once the current one
// passes FILE_SIZE_BYTES), each described from its footer for the manifest.

import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { JobError } from '../core/errors.js';
import { joinLocation } from '../core/storage.js';
import type { DataFile } from '../iceberg/spec/manifest.js';
import type { PartitionTuple } from '../iceberg/spec/partition.js';
import { partitionPath } from '../iceberg/spec/transform.js';
import type { Table } from '../iceberg/table.js';
import { describeParquetFile } from '../parquet/footer-data-file.js';
import type { DuckDb } from './connection.js';
import { fieldIdsOption, sqlString } from './iceberg-types.js';

/**
 * Upper bound of a row group's size: DuckDB buffers a row group whole before writing it, and
 * readers hold a column chunk whole (a 300 MB content chunk failed a 400 MB DuckDB scan).
 */
const ROW_GROUP_BYTES = 32 << 20;
/** DuckDB fills row groups in whole vectors of 2048 rows: ROW_GROUP_SIZE 2700 writes 4096. */
const VECTOR_ROWS = 2048;

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
  const dirLocation = joinLocation(table.dataLocation(partitionPath(table.spec(), table.schema(), o.partition)), `w-${randomUUID()}`);
  const dir = table.storage.localPath(dirLocation);
  if (dir === undefined) throw new JobError('CONFIG', `DuckDB can only write local files; ${dirLocation} is not one`);
  await mkdir(dirname(dir), { recursive: true });
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
