// Producing raw records with kafkajs: snappy, acks=all, Java-compatible key partitioning, batched
// by bytes with bounded memory, one request in flight so per-partition order holds. A failed send
// fails every later call, so a caller cannot go on (and commit) after losing records.
// Imports core, kafkajs (through client.ts) only.

import kafkajs from 'kafkajs';
import type { Message, Producer } from 'kafkajs';
import { JobError } from '../core/errors.js';
import { createKafkajsClient, toJobError, type KafkaClientOptions } from './client.js';

const { CompressionTypes, Partitioners } = kafkajs;

export interface ProduceRecord {
  readonly topic: string;
  /** Kafka partitions keyed records by murmur2(key), as the Java client does. */
  readonly key: Buffer | string | null;
  readonly value: Buffer | null;
  /** Overrides the key's partition. */
  readonly partition?: number;
  /** Default: the time of sending. */
  readonly timestampMs?: number;
}

export type ProducerCompression = 'snappy' | 'gzip' | 'none';

export interface ProducerOptions extends KafkaClientOptions {
  /**
   * Bytes (key + value) buffered before a send; default 1 MiB. A record that would overflow the
   * buffer goes out in the next request, so a 10 MiB event travels alone rather than pushing its
   * request past the broker's message.max.bytes. Memory stays under about twice this plus one record.
   */
  readonly batchBytes?: number;
  readonly compression?: ProducerCompression;
  /** How long the broker may wait for acks=all (ProduceRequest timeout); default 30000. */
  readonly ackTimeoutMs?: number;
  /**
   * Idempotent producing (one request in flight, sequence numbers): a retried request cannot write
   * its records twice. Off by default: kafkajs marks it experimental, and the error stream is
   * at-least-once anyway; tests that count offsets turn it on.
   */
  readonly idempotent?: boolean;
}

const COMPRESSION = {
  snappy: CompressionTypes.Snappy,
  gzip: CompressionTypes.GZIP,
  none: CompressionTypes.None,
} as const;

/** A connected producer. Create with `KafkaProducer.connect`; `close` flushes and disconnects. */
export class KafkaProducer {
  private buffer: Message[][] = [];
  private bufferTopics: string[] = [];
  private bufferedBytes = 0;
  private inFlight: Promise<void> | undefined;
  private failure: JobError | undefined;
  private closed = false;
  private sentRecords = 0;
  private sentBytes = 0;

  private constructor(
    private readonly producer: Producer,
    private readonly options: ProducerOptions,
    private readonly batchBytes: number,
  ) {}

  static async connect(options: ProducerOptions): Promise<KafkaProducer> {
    const batchBytes = options.batchBytes ?? 1024 * 1024;
    if (!Number.isInteger(batchBytes) || batchBytes <= 0) {
      throw new JobError('CONFIG', `producer batchBytes must be a positive integer, found ${batchBytes}`);
    }
    const producer = createKafkajsClient(options).producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: options.retries ?? 5 },
      ...(options.idempotent === true ? { idempotent: true, maxInFlightRequests: 1 } : {}),
    });
    try {
      await producer.connect();
    } catch (error) {
      throw toJobError(error, 'connecting the Kafka producer', options.brokers);
    }
    return new KafkaProducer(producer, options, batchBytes);
  }

  /** Records and key+value bytes acknowledged by the broker so far. */
  get acknowledged(): { readonly records: number; readonly sizeBytes: number } {
    return { records: this.sentRecords, sizeBytes: this.sentBytes };
  }

  /** Buffers one record; resolves once it is buffered, which may wait for an earlier send. */
  async send(record: ProduceRecord): Promise<void> {
    this.checkUsable();
    const sizeBytes = byteLength(record.key) + (record.value?.length ?? 0);
    if (this.bufferedBytes > 0 && this.bufferedBytes + sizeBytes > this.batchBytes) {
      await this.startSend();
    }
    let index = this.bufferTopics.indexOf(record.topic);
    if (index < 0) {
      index = this.bufferTopics.push(record.topic) - 1;
      this.buffer.push([]);
    }
    const message: Message = { key: record.key, value: record.value };
    if (record.partition !== undefined) message.partition = record.partition;
    if (record.timestampMs !== undefined) message.timestamp = String(record.timestampMs);
    this.buffer[index]!.push(message);
    this.bufferedBytes += sizeBytes;
    if (this.bufferedBytes >= this.batchBytes) await this.startSend();
  }

  async sendAll(records: Iterable<ProduceRecord> | AsyncIterable<ProduceRecord>): Promise<void> {
    for await (const record of records) await this.send(record);
  }

  /** Sends everything buffered and waits for the broker's acknowledgement. */
  async flush(): Promise<void> {
    this.checkUsable();
    await this.startSend();
    await this.inFlight;
    this.checkUsable();
  }

  /** Flushes, then disconnects; a failed flush is still thrown after disconnecting. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.failure === undefined) await this.flush();
    } finally {
      this.closed = true;
      await this.producer.disconnect().catch(() => {});
    }
    if (this.failure !== undefined) throw this.failure;
  }

  private checkUsable(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new JobError('INTERNAL', 'the Kafka producer is closed');
  }

  // Waits for the request in flight, then sends the buffer without waiting: the next buffer fills
  // while this one is on the wire, and at most one request is in flight, so order is kept.
  private async startSend(): Promise<void> {
    await this.inFlight;
    this.checkUsable();
    if (this.bufferedBytes === 0) return;
    const topicMessages = this.bufferTopics.map((topic, i) => ({ topic, messages: this.buffer[i]! }));
    const records = topicMessages.reduce((n, t) => n + t.messages.length, 0);
    const sizeBytes = this.bufferedBytes;
    this.buffer = [];
    this.bufferTopics = [];
    this.bufferedBytes = 0;
    this.inFlight = this.producer
      .sendBatch({
        topicMessages,
        acks: -1,
        timeout: this.options.ackTimeoutMs ?? 30_000,
        compression: COMPRESSION[this.options.compression ?? 'snappy'],
      })
      .then(
        () => {
          this.sentRecords += records;
          this.sentBytes += sizeBytes;
        },
        (error: unknown) => {
          const topics = topicMessages.map((t) => t.topic).join(', ');
          this.failure = toJobError(error, `producing ${records} records (${sizeBytes} bytes) to ${topics}`, this.options.brokers);
        },
      );
  }
}

function byteLength(key: Buffer | string | null): number {
  if (key === null) return 0;
  return typeof key === 'string' ? Buffer.byteLength(key) : key.length;
}
