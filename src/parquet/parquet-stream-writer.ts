// Arrow record batches → a Parquet file through parquet-wasm's streaming writer
// (transformParquetStream): each batch crosses into wasm as Arrow IPC, row groups are encoded as
// they fill, and the encoded bytes stream to storage as they come, so neither the JS heap nor
// the wasm memory (which never shrinks) ever holds a whole file. `RollingParquetWriter` starts a
// new file once one passes the target size.

import { RecordBatch as ArrowBatch, Table as ArrowTable, tableToIPC } from 'apache-arrow';
import * as wasm from 'parquet-wasm/node';
import { JobError } from '../core/errors.js';
import type { ObjectWriter, Storage } from '../core/storage.js';

export interface ParquetWriteOptions {
  /** Rows per row group (the unit the encoder buffers). */
  readonly rowGroupRows?: number;
  readonly compression?: 'zstd' | 'snappy' | 'uncompressed';
}

const CODECS = { zstd: wasm.Compression.ZSTD, snappy: wasm.Compression.SNAPPY, uncompressed: wasm.Compression.UNCOMPRESSED } as const;

/** One Parquet file written from batches; `close()` returns its exact size. */
export class ParquetStreamWriter {
  private pending: { batch: wasm.RecordBatch; taken: () => void } | undefined;
  private waiting: ((b: wasm.RecordBatch | undefined) => void) | undefined;
  private ended = false;
  private written = 0;
  private failure: unknown;
  private readonly done: Promise<void>;

  private constructor(private readonly out: ObjectWriter, o: ParquetWriteOptions) {
    const props = new wasm.WriterPropertiesBuilder()
      .setCompression(CODECS[o.compression ?? 'zstd'])
      .setMaxRowGroupSize(o.rowGroupRows ?? 20_000)
      .setCreatedBy('mwlake (parquet-wasm)')
      .build();
    const batches = new ReadableStream<wasm.RecordBatch>({
      pull: async (controller) => {
        const next = await this.nextBatch();
        if (next === undefined) controller.close();
        else controller.enqueue(next);
      },
    }, { highWaterMark: 0 });
    this.done = (async () => {
      const bytes = (await wasm.transformParquetStream(batches, props)) as ReadableStream<Uint8Array>;
      for await (const chunk of bytes as unknown as AsyncIterable<Uint8Array>) {
        await this.out.write(chunk);
        this.written += chunk.byteLength;
      }
    })().catch((error: unknown) => {
      this.failure = error;
    });
  }

  static async open(storage: Storage, location: string, o: ParquetWriteOptions = {}): Promise<ParquetStreamWriter> {
    return new ParquetStreamWriter(await storage.createWriter(location), o);
  }

  get location(): string {
    return this.out.location;
  }

  /** Bytes encoded and written so far (whole row groups; the footer comes at close). */
  get bytesWritten(): number {
    return this.written;
  }

  private nextBatch(): Promise<wasm.RecordBatch | undefined> {
    if (this.pending !== undefined) {
      const { batch, taken } = this.pending;
      this.pending = undefined;
      taken();
      return Promise.resolve(batch);
    }
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** Hands one batch to the encoder; resolves once the encoder has taken it (backpressure). */
  async write(batch: ArrowBatch): Promise<void> {
    if (this.failure !== undefined) throw this.error();
    if (batch.numRows === 0) return;
    const table = wasm.Table.fromIPCStream(tableToIPC(new ArrowTable(batch), 'stream'));
    const batches = table.recordBatches();
    table.free();
    for (const b of batches) {
      await new Promise<void>((taken) => {
        if (this.waiting !== undefined) {
          const resolve = this.waiting;
          this.waiting = undefined;
          resolve(b);
          taken();
        } else this.pending = { batch: b, taken };
      });
    }
  }

  async close(): Promise<number> {
    this.ended = true;
    if (this.waiting !== undefined) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve(undefined);
    }
    await this.done;
    if (this.failure !== undefined) {
      // The write's failure is the one to report; a file the abort could not remove is an orphan.
      await this.out.abort().catch(() => undefined);
      throw this.error();
    }
    try {
      return await this.out.close();
    } catch (error) {
      // Not synced or not closed: the file is not whole, and nobody else knows to remove it.
      await this.out.abort().catch(() => undefined);
      throw error;
    }
  }

  async abort(): Promise<void> {
    this.ended = true;
    this.waiting?.(undefined);
    await this.done;
    await this.out.abort();
  }

  private error(): JobError {
    const cause = this.failure;
    // Storage's own error (a full disk: 71) names the file and keeps its exit code; only the encoder's is a bug.
    if (cause instanceof JobError) return cause;
    return new JobError('INTERNAL', `writing Parquet ${this.out.location} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Writes batches into files of about `targetFileBytes` each, named by `nextLocation()`. */
export class RollingParquetWriter {
  private current: ParquetStreamWriter | undefined;
  private readonly closed: { location: string; sizeBytes: number }[] = [];

  constructor(
    private readonly storage: Storage,
    private readonly nextLocation: () => string,
    private readonly targetFileBytes: number,
    private readonly options: ParquetWriteOptions = {},
  ) {}

  async write(batch: ArrowBatch): Promise<void> {
    this.current ??= await ParquetStreamWriter.open(this.storage, this.nextLocation(), this.options);
    await this.current.write(batch);
    if (this.current.bytesWritten >= this.targetFileBytes) await this.roll();
  }

  private async roll(): Promise<void> {
    if (this.current === undefined) return;
    const w = this.current;
    this.current = undefined;
    this.closed.push({ location: w.location, sizeBytes: await w.close() });
  }

  /** Closes the open file; returns every file written, in order. */
  async close(): Promise<{ location: string; sizeBytes: number }[]> {
    await this.roll();
    return [...this.closed];
  }

  /** Removes every file written; tries them all, then fails with the first that could not be removed. */
  async abort(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    const results = await Promise.allSettled([current?.abort(), ...this.closed.map((f) => this.storage.delete(f.location))]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}
