// One DuckDB in-process database per job step, behind the four calls the pipeline needs.
// Values come back as JS values (BIGINT → bigint, structs → objects, lists → arrays).

import { createRequire } from 'node:module';
import type { DuckDBConnection, DuckDBInstance, DuckDBResult } from '@duckdb/node-api';
import { tmpdir } from 'node:os';
import { DISK_FULL_TEXT, JobError } from '../core/errors.js';
import { onInterrupt } from '../core/interrupt.js';
import { ownedTempPath, removedOnInterrupt } from '../core/owned-temp-dir.js';
import { displayValue } from './display-values.js';
import { decodeChunk } from './row-decoder.js';

// require, not import: an ESM import of this CommonJS package makes Node scan its ~50 re-exported
// files for named exports, 50 ms of every `mwlake` start that touches DuckDB (`mwlake query`).
const duckdb = createRequire(import.meta.url)('@duckdb/node-api') as typeof import('@duckdb/node-api');

export interface DuckDbOptions {
  /** e.g. '4GB'; DuckDB spills to temp_directory beyond it. */
  readonly memoryLimit?: string;
  readonly threads?: number;
  /**
   * Where DuckDB spills. Default: `mwlake-duckdb-<pid namespace>-<pid>-*` in the system temp
   * folder, removed on close (and by the next run if this one is killed), never DuckDB's own
   * default `.tmp` in the working directory, which under cron may be unwritable or `/`.
   */
  readonly tempDirectory?: string;
}

export interface DuckDb {
  run(sql: string): Promise<void>;
  all<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /**
   * The result's column names, and its rows in chunks of about 2048 (a large result never sits
   * in memory at once), values as `mwlake query` shows them (display-values.ts).
   */
  streamForDisplay(sql: string): Promise<{ columns: string[]; batches: AsyncIterable<Record<string, unknown>[]> }>;
  /**
   * The same chunks decoded column by column (row-decoder.ts): faster, and a BLOB arrives as its
   * one native copy, but only booleans, integers, doubles, strings, BLOBs, lists and structs.
   */
  streamDecoded<T = Record<string, unknown>>(sql: string): AsyncIterable<T[]>;
  /** DuckDB's memory_limit in bytes (its default: 80% of the memory it sees). */
  memoryLimitBytes(): Promise<number>;
  close(): Promise<void>;
}

const UNITS: Readonly<Record<string, number>> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };

/** A size as DuckDB prints settings ("381.4 MiB", "19.1 GiB"), in bytes. */
export function parseDuckDbSize(text: string): number {
  const m = /^\s*([\d.]+)\s*([KMGT]i?B|B)\s*$/.exec(text);
  const unit = m === null ? undefined : UNITS[m[2]!];
  if (m === null || unit === undefined) throw new JobError('INTERNAL', `cannot read DuckDB's size ${JSON.stringify(text)}`);
  return Math.floor(Number(m[1]) * unit);
}

/** DuckDB's messages for a machine that ran short, not a bug (the first line of its message). */
const OUT_OF_MEMORY = /^Out of Memory Error/;
const OUT_OF_DISK = new RegExp(`^IO Error: .*(${DISK_FULL_TEXT.source})`);
/**
 * The strerror texts of errnos storageError (core/errors.ts) sorts the same way: a path or
 * permission a person must fix (a file system remounted read-only after disk errors), and a
 * failing device, which a retry may get past.
 */
const REFUSED = /^IO Error: .*(Permission denied|Read-only file system|Not a directory|Is a directory|File name too long|Too many levels of symbolic links)/;
const DEVICE_FAILED = /^IO Error: .*Input\/output error/;
/** A valid Parquet file in a codec or page encoding DuckDB 1.5 cannot read (another engine's): no retry mends it, and nothing is damaged. */
const UNSUPPORTED_FILE = /^Invalid Input Error: Failed to read file .*Unsupported (compression codec|page encoding)/;
/** A file a statement reads is gone (a table's, removed by hand or by a copied warehouse's maintenance). */
const FILE_GONE = /^IO Error: No files found that match the pattern/;
/**
 * A Parquet file DuckDB reads is damaged (cut short, overwritten), in DuckDB 1.5's messages: bad
 * data, which no retry mends, not a bug. Its Parquet and Thrift decoders' own exceptions come as
 * "Invalid Error" (as does any other C++ exception, a bug or a thread that cannot start: those
 * stay internal), naming no file: the statement does.
 */
const CORRUPT_FILE = /^(Invalid Input Error: (No magic bytes found at end of file|File .* too small to be a Parquet file|Footer length error in file|Failed to read file (?!.*(schema mismatch|Unsupported ))|Invalid string encoding found in Parquet file )|IO Error: Could not read enough bytes from file |Invalid Error: (TProtocolException|Out of buffer|don't know what type|Page size mismatch|.*[Cc]orrupt))/;

/** A DuckDB failure as a JobError: a machine that ran short, a storage failure, a missing file, else a bug. */
export function duckDbError(error: unknown, sql: string): JobError {
  const message = error instanceof Error ? error.message : String(error);
  const head = sql.replace(/\s+/g, ' ').trim().slice(0, 160);
  const where = `(in: ${head}${head.length === 160 ? '…' : ''})`;
  const first = message.split('\n')[0]!;
  // Each says what to add: memory (or spill space) for the one, room on the named file's disk for the other.
  if (OUT_OF_MEMORY.test(first)) {
    return new JobError('RESOURCES', `DuckDB ran out of memory: ${first}; give the step more memory (memory_limit_mb; DuckDB's default is 80% of RAM) or spill space (${tmpdir()}) ${where}`, { cause: error });
  }
  if (OUT_OF_DISK.test(first)) {
    return new JobError('RESOURCES', `DuckDB ran out of disk space: ${first}; free space on the disk of the file it names (spills go to ${tmpdir()}) ${where}`, { cause: error });
  }
  if (REFUSED.test(first)) {
    return new JobError('STORAGE_REFUSED', `DuckDB could not use a file: ${first}; fix the path or its permissions ${where}`, { cause: error });
  }
  if (DEVICE_FAILED.test(first)) {
    return new JobError('STORAGE', `DuckDB could not read or write a file: ${first} ${where}`, { cause: error, retryable: true });
  }
  if (CORRUPT_FILE.test(first)) {
    return new JobError('DATA', `DuckDB found a damaged file: ${first}; restore the file from a copy, or roll its table back to a snapshot without it (mwlake table rollback) ${where}`, { cause: error });
  }
  if (UNSUPPORTED_FILE.test(first)) {
    return new JobError('DATA', `DuckDB cannot read a file: ${first}; the file is not damaged, but written with a codec or encoding DuckDB lacks: rewrite the table's files with the engine that wrote them, using snappy, zstd or gzip ${where}`, { cause: error });
  }
  if (FILE_GONE.test(first)) {
    return new JobError('NOT_FOUND', `DuckDB could not read its files: ${first}; the file is gone (removed by hand or by another process) ${where}`, { cause: error });
  }
  // DuckDB's own internal errors carry its stack trace: the line names the failure, the error log (the cause) keeps the rest.
  const shown = /^INTERNAL Error/.test(first) ? first : message;
  return new JobError('INTERNAL', `DuckDB failed: ${shown} ${where}`, { cause: error });
}

class Connection implements DuckDb {
  constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    /** Removes our default spill folder (also if a signal stops the run first; a no-op when the caller chose one) and forgets the interrupt. */
    private readonly removeSpill: () => Promise<void>,
  ) {}

  async run(sql: string): Promise<void> {
    try {
      await this.conn.run(sql);
    } catch (error) {
      throw duckDbError(error, sql);
    }
  }

  async all<T>(sql: string): Promise<T[]> {
    try {
      const reader = await this.conn.runAndReadAll(sql);
      return reader.getRowObjectsJS() as T[];
    } catch (error) {
      throw duckDbError(error, sql);
    }
  }

  private async streamed(sql: string): Promise<DuckDBResult> {
    try {
      return await this.conn.stream(sql);
    } catch (error) {
      throw duckDbError(error, sql);
    }
  }

  async streamForDisplay(sql: string): Promise<{ columns: string[]; batches: AsyncIterable<Record<string, unknown>[]> }> {
    const result = await this.streamed(sql);
    async function* batches(): AsyncIterable<Record<string, unknown>[]> {
      try {
        for await (const rows of result.yieldConvertedRowObjects(displayValue)) yield rows;
      } catch (error) {
        throw duckDbError(error, sql);
      }
    }
    return { columns: result.deduplicatedColumnNames(), batches: batches() };
  }

  async *streamDecoded<T>(sql: string): AsyncIterable<T[]> {
    const result = await this.streamed(sql);
    const names = result.deduplicatedColumnNames();
    for (;;) {
      let chunk;
      try {
        chunk = await result.fetchChunk();
      } catch (error) {
        throw duckDbError(error, sql);
      }
      if (chunk === null || chunk.rowCount === 0) return;
      yield decodeChunk(chunk, names) as T[];
    }
  }

  async memoryLimitBytes(): Promise<number> {
    const [row] = await this.all<{ v: string }>("SELECT current_setting('memory_limit') AS v");
    return parseDuckDbSize(row!.v);
  }

  async close(): Promise<void> {
    this.conn.closeSync();
    this.instance.closeSync();
    await this.removeSpill();
  }
}

/** DuckDB's spill folders in the system temp folder (core/owned-temp-dir.ts). */
export const SPILL_PREFIX = 'mwlake-duckdb-';

export async function openDuckDb(o: DuckDbOptions = {}): Promise<DuckDb> {
  const options: Record<string, string> = {};
  if (o.memoryLimit !== undefined) options['memory_limit'] = o.memoryLimit;
  if (o.threads !== undefined) options['threads'] = String(o.threads);
  const ownedSpill = o.tempDirectory === undefined ? await ownedTempPath(SPILL_PREFIX) : undefined;
  options['temp_directory'] = o.tempDirectory ?? ownedSpill!;
  const instance = await duckdb.DuckDBInstance.create(':memory:', options);
  const conn = await instance.connect();
  // A signal stops the statement running: the process cannot exit while DuckDB works on a thread
  // (a COPY, a merge's write), so SIGTERM would otherwise wait for it, far past the 20 s promised.
  const forgetInterrupt = onInterrupt(() => conn.interrupt());
  const removeSpill = ownedSpill === undefined ? async () => {} : removedOnInterrupt(ownedSpill);
  const db = new Connection(instance, conn, async () => {
    forgetInterrupt();
    await removeSpill();
  });
  await db.run("SET TimeZone = 'UTC'");
  return db;
}
