// Stages validated events as NDJSON per events-table partition (wiki, day) on local disk and
// writes them as Parquet data files. Staging is chunked: once a partition's chunk is full it is
// encoded in the background (DuckDB's JSON reader and Parquet writer on native threads, or Arrow
// batches through parquet-wasm) while the caller keeps decoding and validating, so both cores
// work and memory stays flat however many events a run drains. Files roll at the target size.

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { storageError } from '../core/errors.js';
import { makeDirectory } from '../core/make-directory.js';
import { createOwnedTempDir, removedOnInterrupt } from '../core/owned-temp-dir.js';
import { discardWritten, localPathOf } from '../core/storage.js';
import { openDuckDb, type DuckDb } from '../duckdb/connection.js';
import { writeDataFiles } from '../duckdb/data-file-writer.js';
import { duckDbType, quoteIdent, sqlString } from '../duckdb/iceberg-types.js';
import { EVENTS_SCHEMA, type KafkaCoordinates } from '../events/events-table.js';
import { stagedRow } from '../events/staged-row.js';
import type { PageChangeEvent } from '../events/page-change.js';
import type { DataFile } from '../iceberg/spec/manifest.js';
import { partitionPath } from '../iceberg/spec/transform.js';
import type { Table } from '../iceberg/table.js';
import type { Schema } from '../iceberg/spec/types.js';
import { rowsToRecordBatch } from '../parquet/arrow-rows.js';
import { describeParquetFile } from '../parquet/footer-data-file.js';
import { RollingParquetWriter } from '../parquet/parquet-stream-writer.js';

// DuckDB's JSON → Parquet copy peaks in proportion to the file it reads: at 64 MiB the drain of
// 240,000 events peaked at 990-1,085 MB RSS, at 32 MiB at 820-830 MB, for about 3% more time.
const DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024;
/**
 * Open chunks together stage at most this much: a night of hundreds of wikis over two UTC days
 * leaves most partitions under a chunk, and all of them waited on local disk (a tmpfs /tmp
 * shares RAM) until the end. Past it, the largest open chunk is encoded early.
 */
const DEFAULT_STAGED_BYTES_LIMIT = 32 * DEFAULT_CHUNK_BYTES;
/** Staging folders in the system temp folder; a killed drain's folder is removed by the next stager. */
export const STAGING_PREFIX = 'mwlake-stage-';

export type ParquetEncoder = 'duckdb' | 'parquet-wasm';

export interface StagerOptions {
  /** The table the data files are for (they are written, not committed). */
  readonly table: Table;
  /** The rows' schema, which the staged JSON lines follow; default the page change events table's. */
  readonly schema?: Schema;
  readonly targetFileSizeBytes: number;
  /** The largest accepted event; sizes DuckDB's JSON reader buffer. */
  readonly maxEventBytes?: number;
  readonly encoder?: ParquetEncoder;
  /** A partition's staged JSON is encoded in chunks of this size; default 32 MiB. */
  readonly chunkBytes?: number;
  /** The open chunks' bytes past which the largest is encoded early; default 1 GiB. */
  readonly stagedBytesLimit?: number;
  /** Test hook: runs after each chunk's data files are written (crash tests kill the process here). */
  readonly afterChunkWritten?: () => Promise<void> | void;
}

/** Events per Arrow batch handed to parquet-wasm: a few MB of content, not a whole partition. */
const ARROW_BATCH_ROWS = 1000;

interface Chunk {
  readonly path: string;
  readonly tuple: readonly [string, number | null];
  readonly stream: WriteStream;
  bytes: number;
}

export class EventStager {
  /** The open chunk of each partition. */
  private readonly open = new Map<string, Chunk>();
  private readonly all: Chunk[] = [];
  private readonly files: DataFile[] = [];
  /** Chunks encode one after another, behind the caller. */
  private encoding: Promise<void> = Promise.resolve();
  private failure: unknown;
  private db: Promise<DuckDb> | undefined;
  private rows = 0;
  /** Bytes in the open chunks. */
  private staged = 0;
  private removeDir: () => Promise<void> = async () => {};

  private constructor(
    private readonly dir: string,
    private readonly o: StagerOptions,
  ) {}

  static async open(o: StagerOptions): Promise<EventStager> {
    const stager = new EventStager(await createOwnedTempDir(STAGING_PREFIX), o);
    // On SIGTERM only the local staging goes; written data files stay (a commit may be in
    // flight), and an uncommitted one is an orphan `mwlake maintain` removes.
    stager.removeDir = removedOnInterrupt(stager.dir);
    return stager;
  }

  get count(): number {
    return this.rows;
  }

  /** Stages one event; resolves once the staging file can take more (backpressure). Throws UnstorableValueError as stagedRow does. */
  add(event: PageChangeEvent, coordinates: KafkaCoordinates): Promise<void> {
    const { line, day } = stagedRow(event, coordinates);
    return this.addLine(event.wiki_id, day, Buffer.from(line, 'utf8'));
  }

  /** Stages one events-table row already serialised as a JSON line (see events/staged-row.ts). */
  async addLine(wikiId: string, day: number | null, line: Uint8Array): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    const tuple: [string, number | null] = [wikiId, day];
    const key = JSON.stringify(tuple);
    let chunk = this.open.get(key);
    if (chunk === undefined) {
      const path = join(this.dir, `${this.all.length}.jsonl`);
      const stream = createWriteStream(path);
      // Without a listener a failed open or write (ENOSPC, a removed folder) would crash the process.
      stream.on('error', (error) => (this.failure ??= storageError('staging events', path, error)));
      chunk = { path, tuple, stream, bytes: 0 };
      this.open.set(key, chunk);
      this.all.push(chunk);
    }
    this.rows++;
    chunk.bytes += line.byteLength;
    this.staged += line.byteLength;
    const c = chunk;
    // once() settles on 'error' too (a failed stream never drains); the listener has kept the error.
    if (!c.stream.write(line)) await once(c.stream, 'drain').catch(() => {});
    if (this.failure !== undefined) throw this.failure;
    if (c.bytes >= (this.o.chunkBytes ?? DEFAULT_CHUNK_BYTES)) await this.encodeEarly(key, c);
    else if (this.staged > (this.o.stagedBytesLimit ?? DEFAULT_STAGED_BYTES_LIMIT)) {
      let largest: [string, Chunk] | undefined;
      for (const entry of this.open) if (largest === undefined || entry[1].bytes > largest[1].bytes) largest = entry;
      await this.encodeEarly(...largest!);
    }
  }

  /** Takes an open chunk out of staging and schedules its encoding. */
  private async encodeEarly(key: string, chunk: Chunk): Promise<void> {
    this.open.delete(key);
    this.staged -= chunk.bytes;
    // At most one chunk encodes while the next one stages: wait for the previous one first.
    await this.encoding;
    if (this.failure !== undefined) throw this.failure;
    this.schedule(chunk);
  }

  private schedule(chunk: Chunk): void {
    // Never rejects: finish() schedules every open chunk at once, and a rejection nothing awaited
    // yet (a last write failing on a full disk while an earlier chunk encodes) killed the process.
    const ended = new Promise<void>((resolve) =>
      chunk.stream.end((e?: Error | null) => {
        if (e) this.failure ??= storageError('staging events', chunk.path, e);
        resolve();
      }),
    );
    this.encoding = this.encoding.then(async () => {
      await ended;
      if (this.failure !== undefined) return;
      try {
        this.files.push(...(await this.encode(chunk)));
        await rm(chunk.path, { force: true });
        await this.o.afterChunkWritten?.();
      } catch (error) {
        this.failure ??= error;
      }
    });
  }

  /** Encodes what is still staged and returns every data file written (not committed). */
  async finish(): Promise<DataFile[]> {
    for (const chunk of this.open.values()) this.schedule(chunk);
    this.open.clear();
    await this.encoding;
    if (this.failure !== undefined) throw this.failure;
    return [...this.files];
  }

  private async encode(chunk: Chunk): Promise<DataFile[]> {
    const { table } = this.o;
    if (this.o.encoder === 'parquet-wasm') return this.encodeWithParquetWasm(chunk);
    this.db ??= openDuckDb();
    const db = await this.db;
    const schema = this.o.schema ?? EVENTS_SCHEMA;
    const columns = `{${schema.fields.map((f) => `${sqlString(f.name)}: ${sqlString(duckDbType(f.type))}`).join(', ')}}`;
    const select = schema.fields.map((f) => quoteIdent(f.name)).join(', ');
    // DuckDB's JSON reader buffers this much per thread: size it from the largest accepted event
    // (a row is the event plus a few columns), not a blanket 256 MB.
    const objectLimit = 2 * (this.o.maxEventBytes ?? 10 * 1024 * 1024) + (1 << 20);
    // No ORDER BY: DuckDB streams the copy instead of sorting the chunk in memory. Row order in
    // the file is not kept (writeDataFiles turns preserve_insertion_order off); every reader orders
    // or joins by its own keys.
    const selectSql = `SELECT ${select} FROM read_json(${sqlString(chunk.path)}, format = 'newline_delimited', columns = ${columns}, maximum_object_size = ${objectLimit})`;
    return writeDataFiles(db, table, { selectSql, partition: chunk.tuple, targetFileSizeBytes: this.o.targetFileSizeBytes });
  }

  private async encodeWithParquetWasm(chunk: Chunk): Promise<DataFile[]> {
    const { table } = this.o;
    const dir = table.dataLocation(partitionPath(table.spec(), table.schema(), chunk.tuple));
    await makeDirectory(localPathOf(dir));
    const writer = new RollingParquetWriter(table.storage, () => `${dir}/${randomUUID()}.parquet`, this.o.targetFileSizeBytes);
    try {
      let rows: Record<string, unknown>[] = [];
      for await (const line of createInterface({ input: createReadStream(chunk.path), crlfDelay: Infinity })) {
        if (line === '') continue;
        rows.push(JSON.parse(line) as Record<string, unknown>);
        if (rows.length === ARROW_BATCH_ROWS) {
          await writer.write(rowsToRecordBatch(table.schema(), rows));
          rows = [];
        }
      }
      if (rows.length > 0) await writer.write(rowsToRecordBatch(table.schema(), rows));
      // Inside the try: the chunk's files reach this.files (and close's discard) only once all are described.
      const out: DataFile[] = [];
      for (const f of await writer.close()) out.push(await describeParquetFile({ storage: table.storage, location: f.location, schema: table.schema(), partition: chunk.tuple }));
      return out;
    } catch (error) {
      // The write's failure is the one to report; a file the abort could not remove is an orphan maintenance removes.
      await writer.abort().catch(() => undefined);
      throw error;
    }
  }

  /** Removes the staging files; with `discard`, also the data files written (nothing was committed). */
  async close(o: { discard?: boolean } = {}): Promise<void> {
    for (const chunk of this.all) chunk.stream.destroy();
    await this.encoding;
    // A DuckDB that failed to open has nothing to close; the files below must still go.
    const db = await this.db?.catch(() => undefined);
    await db?.close().catch(() => {});
    if (o.discard === true) await discardWritten(this.o.table.storage, this.files.map((f) => f.filePath));
    await this.removeDir();
  }
}
