// Worker threads that prepare consumed messages (UTF-8 decoding, JSON parsing, schema validation
// and the events-table JSON line: most of a drain's JavaScript time) beside the main thread, which
// keeps reading Kafka and writing the staging files. Batches go to the workers in turn and come
// back in the order they were sent. With no workers it prepares on the calling thread.

import { Worker } from 'node:worker_threads';
import { JobError } from '../core/errors.js';
import { prepareMessage, type EventKind, type PreparedMessage } from '../events/staged-row.js';
import type { KafkaBatch } from '../kafka/source.js';

/** One batch as the workers receive it: the values end to end in one transferred buffer. */
export interface PrepareRequest {
  readonly id: number;
  readonly topic: string;
  readonly partition: number;
  readonly offsets: BigInt64Array;
  readonly timestamps: Float64Array;
  readonly data: Uint8Array;
  /** End of each value in `data`. */
  readonly ends: Uint32Array;
  readonly maxMessageBytes: number;
  readonly kind: EventKind;
}

/** A PreparedMessage without its line, which travels in the response's shared buffer. */
export type PreparedOutcome =
  | { readonly kind: 'event'; readonly id: string | undefined; readonly wikiId: string; readonly day: number | null; readonly lineBytes: number; readonly withoutContent: boolean }
  | Exclude<PreparedMessage, { kind: 'event' }>;

export interface PrepareResponse {
  readonly id: number;
  readonly outcomes: readonly PreparedOutcome[];
  readonly lines: Uint8Array;
}

/** A batch sent to a worker: `batch` names it (topic, partition, offsets) should the worker fail. */
interface Waiting {
  readonly resolve: (r: PrepareResponse) => void;
  readonly reject: (e: unknown) => void;
  readonly batch: string;
}

interface PoolWorker {
  readonly worker: Worker;
  readonly waiting: Map<number, Waiting>;
  failure?: JobError;
}

/**
 * What a failed worker thread means for the run, naming the batch it was preparing if known. One
 * past its heap limit is a machine too small for the batches, not a bug: 71, not 70.
 */
export function workerFailure(message: string, cause?: Error, batch?: string): JobError {
  const outOfMemory = (cause as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
  // Each worker holds a batch or two whatever their number: its heap limit is what to raise.
  const hint = outOfMemory ? ': raise the heap limit, which worker threads share with the main thread (NODE_OPTIONS=--max-old-space-size=<MiB>)' : '';
  const text = `${message}${batch === undefined ? '' : ` while preparing ${batch}`}${hint}`;
  return new JobError(outOfMemory ? 'RESOURCES' : 'INTERNAL', text, cause === undefined ? {} : { cause });
}

const WORKER_URL = new URL('./prepare-worker.js', import.meta.url);

export class PreparePool {
  private readonly workers: PoolWorker[] = [];
  private next = 0;
  private nextId = 0;

  /** `size` worker threads; 0 prepares on the calling thread. */
  constructor(
    size: number,
    private readonly maxMessageBytes: number,
    private readonly kind: EventKind = 'page_change',
    createWorker: () => Worker = () => new Worker(WORKER_URL),
  ) {
    for (let i = 0; i < size; i++) {
      let worker: Worker;
      try {
        worker = createWorker();
      } catch (error) {
        // Those already started would keep the process alive.
        for (const started of this.workers) void started.worker.terminate();
        throw error;
      }
      const entry: PoolWorker = { worker, waiting: new Map() };
      // Each batch in flight fails naming itself, so the operator can find the messages it held.
      const fail = (message: string, cause?: Error): void => {
        entry.failure ??= workerFailure(message, cause);
        for (const w of entry.waiting.values()) w.reject(workerFailure(message, cause, w.batch));
        entry.waiting.clear();
      };
      entry.worker.on('message', (response: PrepareResponse) => {
        const w = entry.waiting.get(response.id);
        entry.waiting.delete(response.id);
        w?.resolve(response);
      });
      entry.worker.on('error', (cause) => fail(`a drain worker thread failed: ${cause.message}`, cause));
      entry.worker.on('exit', (code) => fail(`a drain worker thread exited (code ${code})`));
      this.workers.push(entry);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** The prepared messages of `batch`, in its order. */
  async prepare(batch: KafkaBatch): Promise<PreparedMessage[]> {
    const { messages } = batch;
    if (this.workers.length === 0) return messages.map((m) => prepareMessage(m.value ?? EMPTY, m, this.maxMessageBytes, this.kind));
    const entry = this.workers[this.next]!;
    this.next = (this.next + 1) % this.workers.length;
    if (entry.failure !== undefined) throw entry.failure;
    const request = this.request(batch);
    const response = await new Promise<PrepareResponse>((resolve, reject) => {
      const last = messages[messages.length - 1];
      const offsets = last === undefined ? 'no messages' : `offsets ${messages[0]!.offset}–${last.offset}`;
      entry.waiting.set(request.id, { resolve, reject, batch: `${batch.topic}[${batch.partition}] ${offsets}` });
      entry.worker.postMessage(request, [request.data.buffer, request.offsets.buffer, request.timestamps.buffer, request.ends.buffer] as ArrayBuffer[]);
    });
    let start = 0;
    return response.outcomes.map((o): PreparedMessage => {
      if (o.kind !== 'event') return o;
      const line = response.lines.subarray(start, start + o.lineBytes);
      start += o.lineBytes;
      return { kind: 'event', id: o.id, wikiId: o.wikiId, day: o.day, line, withoutContent: o.withoutContent };
    });
  }

  private request(batch: KafkaBatch): PrepareRequest {
    const { messages } = batch;
    let total = 0;
    for (const m of messages) total += m.value?.byteLength ?? 0;
    // Copied into a buffer of our own: kafkajs values are views into its fetch buffers.
    const data = new Uint8Array(total);
    const ends = new Uint32Array(messages.length);
    const offsets = new BigInt64Array(messages.length);
    const timestamps = new Float64Array(messages.length);
    let at = 0;
    messages.forEach((m, i) => {
      if (m.value !== null) data.set(m.value, at);
      at += m.value?.byteLength ?? 0;
      ends[i] = at;
      offsets[i] = m.offset;
      timestamps[i] = m.timestampMs;
    });
    return { id: this.nextId++, topic: batch.topic, partition: batch.partition, offsets, timestamps, data, ends, maxMessageBytes: this.maxMessageBytes, kind: this.kind };
  }

  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(async (entry) => {
        entry.failure ??= new JobError('INTERNAL', 'the drain worker pool is closed');
        await entry.worker.terminate();
      }),
    );
  }
}

const EMPTY = Buffer.alloc(0);
