// Stages validated events as NDJSON per events-table partition (wiki, day) on local disk, then
// writes them as Parquet data files, one partition at a time, through DuckDB's JSON reader or
// through Arrow batches and parquet-wasm: memory stays flat however many events a run drains, and
// each partition's files roll at the target size.

import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDuckDb } from '../duckdb/connection.js';
import { writeDataFiles } from '../duckdb/data-file-writer.js';
import { duckDbType, quoteIdent, sqlString } from '../duckdb/iceberg-types.js';
import { EVENTS_SCHEMA, eventDay, eventRow, type KafkaCoordinates } from '../events/events-table.js';
import type { PageChangeEvent } from '../events/page-change.js';
import type { DataFile } from '../iceberg/spec/manifest.js';
import { partitionPath } from '../iceberg/spec/transform.js';
import type { Table } from '../iceberg/table.js';
import { rowsToRecordBatch } from '../parquet/arrow-rows.js';
import { describeParquetFile } from '../parquet/footer-data-file.js';
import { RollingParquetWriter } from '../parquet/parquet-stream-writer.js';
import { localPathOf } from '../core/storage.js';

export type ParquetEncoder = 'duckdb' | 'parquet-wasm';

/** Events per Arrow batch handed to parquet-wasm: a few MB of content, not a whole partition. */
const ARROW_BATCH_ROWS = 1000;

interface Partition {
  readonly path: string;
  readonly tuple: readonly [string, number | null];
  readonly stream: WriteStream;
}

export class EventStager {
  private readonly partitions = new Map<string, Partition>();
  private rows = 0;

  private constructor(private readonly dir: string) {}

  static async open(): Promise<EventStager> {
    return new EventStager(await mkdtemp(join(tmpdir(), 'mwlake-stage-')));
  }

  get count(): number {
    return this.rows;
  }

  /** Stages one event; resolves once the staging file can take more (backpressure). */
  async add(event: PageChangeEvent, coordinates: KafkaCoordinates): Promise<void> {
    const tuple: [string, number | null] = [event.wiki_id, eventDay(event)];
    const key = JSON.stringify(tuple);
    let p = this.partitions.get(key);
    if (p === undefined) {
      const path = join(this.dir, `${this.partitions.size}.jsonl`);
      p = { path, tuple, stream: createWriteStream(path) };
      this.partitions.set(key, p);
    }
    this.rows++;
    if (!p.stream.write(JSON.stringify(eventRow(event, coordinates)) + '\n')) await new Promise<void>((resolve) => p.stream.once('drain', () => resolve()));
  }

  /**
   * Writes the staged events as data files of `table` (not committed: the caller commits them),
   * encoded by DuckDB's JSON reader and Parquet writer or by parquet-wasm from Arrow batches.
   */
  async writeDataFiles(table: Table, targetFileSizeBytes: number, maxEventBytes = 10 * 1024 * 1024, encoder: ParquetEncoder = 'duckdb'): Promise<DataFile[]> {
    const partitions = [...this.partitions.values()];
    await Promise.all(partitions.map((p) => new Promise<void>((resolve, reject) => p.stream.end((e?: Error | null) => (e ? reject(e) : resolve())))));
    if (partitions.length === 0) return [];
    if (encoder === 'parquet-wasm') return this.writeWithParquetWasm(table, partitions, targetFileSizeBytes);
    const db = await openDuckDb();
    const columns = `{${EVENTS_SCHEMA.fields.map((f) => `${sqlString(f.name)}: ${sqlString(duckDbType(f.type))}`).join(', ')}}`;
    const select = EVENTS_SCHEMA.fields.map((f) => quoteIdent(f.name)).join(', ');
    // DuckDB's JSON reader buffers this much per thread: size it from the largest accepted event
    // (a row is the event plus a few columns), not a blanket 256 MB.
    const objectLimit = 2 * maxEventBytes + (1 << 20);
    const files: DataFile[] = [];
    try {
      for (const p of partitions) {
        // No ORDER BY: rows stay in consumption order (offset order per partition), and DuckDB
        // streams the copy instead of sorting the whole partition in memory.
        const selectSql = `SELECT ${select} FROM read_json(${sqlString(p.path)}, format = 'newline_delimited', columns = ${columns}, maximum_object_size = ${objectLimit})`;
        files.push(...(await writeDataFiles(db, table, { selectSql, partition: p.tuple, targetFileSizeBytes })));
      }
    } catch (error) {
      await Promise.all(files.map((f) => table.storage.delete(f.filePath)));
      throw error;
    } finally {
      await db.close();
    }
    return files;
  }

  private async writeWithParquetWasm(table: Table, partitions: readonly Partition[], targetFileSizeBytes: number): Promise<DataFile[]> {
    const files: DataFile[] = [];
    try {
      for (const p of partitions) {
        const dir = table.dataLocation(partitionPath(table.spec(), table.schema(), p.tuple));
        await mkdir(localPathOf(dir), { recursive: true });
        const writer = new RollingParquetWriter(table.storage, () => `${dir}/${randomUUID()}.parquet`, targetFileSizeBytes);
        try {
          let rows: Record<string, unknown>[] = [];
          for await (const line of createInterface({ input: createReadStream(p.path), crlfDelay: Infinity })) {
            if (line === '') continue;
            rows.push(JSON.parse(line) as Record<string, unknown>);
            if (rows.length === ARROW_BATCH_ROWS) {
              await writer.write(rowsToRecordBatch(table.schema(), rows));
              rows = [];
            }
          }
          if (rows.length > 0) await writer.write(rowsToRecordBatch(table.schema(), rows));
        } catch (error) {
          await writer.abort();
          throw error;
        }
        for (const f of await writer.close()) files.push(await describeParquetFile({ storage: table.storage, location: f.location, schema: table.schema(), partition: p.tuple }));
      }
    } catch (error) {
      await Promise.all(files.map((f) => table.storage.delete(f.filePath)));
      throw error;
    }
    return files;
  }

  async close(): Promise<void> {
    for (const p of this.partitions.values()) p.stream.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }
}
