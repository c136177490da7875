// `mwlake gen` wiring: runs the synthetic event generator (src/gen) into a JSONL file (one
// message value per line) or into Kafka (src/kafka producer), optionally with a JSONL sidecar
// saying what each record is, and returns counts and the rate. The only place gen meets storage
// or Kafka.

import { JobError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { fileLocation, LocalStorage, type ObjectWriter } from '../core/storage.js';
import { DATACENTERS, MAX_EVENT_BYTES, PAGE_CONTENT_CHANGE_STREAM, topicOf } from '../events/page-change.js';
import { REVISION_VISIBILITY_CHANGE_STREAM } from '../events/visibility-change.js';
import { KafkaAdmin } from '../kafka/admin.js';
import { KafkaProducer } from '../kafka/producer.js';
import { checkOptions, generateRecords, isSingleLine, type GeneratedRecord, type GeneratorOptions } from '../gen/generator.js';
import { addToSummary, emptySummary, type GenSummary } from '../gen/summary.js';

export type GenTarget =
  | { readonly kind: 'file'; readonly path: string; readonly overwrite?: boolean }
  | { readonly kind: 'kafka'; readonly brokers: readonly string[]; readonly partitions: number };

/**
 * Configs of the topics gen creates. They accept production's largest events (max.request.size
 * 10 MiB, notes §2), and keep records forever: records are stamped with their meta.dt, which for a
 * generated period in the past is older than any finite retention.ms, so the broker would roll
 * and delete them within one retention check (seen on the local broker: every segment deleted).
 */
const TOPIC_CONFIGS = {
  'max.message.bytes': String(MAX_EVENT_BYTES + 1024 * 1024),
  'retention.ms': '-1',
  'retention.bytes': '-1',
} as const;

export interface GenRunOptions {
  readonly generator: GeneratorOptions;
  readonly target: GenTarget;
  /** Also write one JSON line per record saying what it is (label, kind, bad kind, topic, key, …). */
  readonly labelsPath?: string;
  readonly overwriteLabels?: boolean;
}

export interface GenReport extends GenSummary {
  readonly target: string;
  readonly seconds: number;
  /** Value bytes generated and written per second, in MB (10^6 bytes). */
  readonly megabytesPerSecond: number;
}

/** Flushes writes in chunks of about this size: one syscall per few MB, not per record. */
const CHUNK_BYTES = 4 * 1024 * 1024;

/** Batches small writes into large ones, with one write in flight while the generator keeps working. */
class ChunkedWriter {
  private parts: Buffer[] = [];
  private size = 0;
  private inFlight: Promise<void> | undefined;

  constructor(private readonly writer: ObjectWriter) {}

  async add(bytes: Buffer): Promise<void> {
    this.parts.push(bytes);
    this.size += bytes.length;
    if (this.size >= CHUNK_BYTES) await this.flush();
  }

  /** Waits for the previous write, then starts this one without waiting for it. */
  async flush(): Promise<void> {
    await this.inFlight;
    if (this.size === 0) return;
    const chunk = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    const write = this.writer.write(chunk);
    // Marked handled here; the error still surfaces at the next flush or close.
    write.catch(() => undefined);
    this.inFlight = write;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.inFlight;
    await this.writer.close();
  }

  async abort(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
    await this.writer.abort();
  }
}

const NEWLINE = Buffer.from('\n');

/** What the labels sidecar says about a record (everything but the value). */
export function recordLabelLine(record: GeneratedRecord): string {
  const { value, ...rest } = record;
  return JSON.stringify({ ...rest, valueBytes: value.length });
}

async function openWriter(storage: LocalStorage, path: string, overwrite: boolean): Promise<ChunkedWriter> {
  const location = fileLocation(path);
  if (overwrite) await storage.delete(location);
  return new ChunkedWriter(await storage.createWriter(location));
}

/** Where generated records go. */
interface RecordSink {
  /** For the report: the file path or the broker list. */
  readonly description: string;
  write(record: GeneratedRecord): Promise<void>;
  /** Makes everything written durable (file synced, Kafka acknowledged). */
  close(): Promise<void>;
  /** Gives up; removes partial files. */
  abort(): Promise<void>;
}

/** One message value per line; a value never contains a raw newline. */
class FileSink implements RecordSink {
  private constructor(
    readonly description: string,
    private readonly out: ChunkedWriter,
  ) {}

  static async open(storage: LocalStorage, path: string, overwrite: boolean): Promise<FileSink> {
    return new FileSink(path, await openWriter(storage, path, overwrite));
  }

  async write(record: GeneratedRecord): Promise<void> {
    if (!isSingleLine(record.value)) {
      throw new JobError('INTERNAL', `record ${record.seq} (${record.label}${record.badKind ? ` ${record.badKind}` : ''}) contains a raw newline; expected one message per line`);
    }
    await this.out.add(record.value);
    await this.out.add(NEWLINE);
  }

  close(): Promise<void> {
    return this.out.close();
  }

  abort(): Promise<void> {
    return this.out.abort();
  }
}

/**
 * Produces like production: both datacenter topics (created with `partitions` partitions if
 * missing), key {"wiki_id":…,"page_id":…}, snappy, acks=all, the event's meta.dt as timestamp.
 */
class KafkaSink implements RecordSink {
  private constructor(
    readonly description: string,
    private readonly producer: KafkaProducer,
  ) {}

  /** Creates both datacenter topics of every stream in `streams` that are missing. */
  static async open(target: Extract<GenTarget, { kind: 'kafka' }>, streams: readonly string[], logger: Logger): Promise<KafkaSink> {
    const options = { brokers: target.brokers, clientId: 'mwlake-gen', logger };
    const admin = await KafkaAdmin.connect(options);
    const topics = streams.flatMap((stream) => DATACENTERS.map((datacenter) => topicOf(datacenter, stream)));
    try {
      for (const topic of topics) {
        const created = await admin.createTopic({ topic, partitions: target.partitions, configs: TOPIC_CONFIGS });
        if (created) logger.info({ topic, partitions: target.partitions, configs: TOPIC_CONFIGS }, 'created topic');
        else logger.warn({ topic }, 'topic exists: unless its retention.ms is -1, records stamped with a past meta.dt may be deleted by retention');
      }
    } finally {
      await admin.close();
    }
    const producer = await KafkaProducer.connect({ ...options, compression: 'snappy' });
    return new KafkaSink(`kafka://${target.brokers.join(',')}/${topics.join(',')}`, producer);
  }

  write(record: GeneratedRecord): Promise<void> {
    return this.producer.send({ topic: record.topic, key: record.key, value: record.value, timestampMs: record.timestampMs });
  }

  close(): Promise<void> {
    return this.producer.close();
  }

  async abort(): Promise<void> {
    await this.producer.close().catch(() => undefined);
  }
}

async function openSink(options: GenRunOptions, storage: LocalStorage, logger: Logger): Promise<RecordSink> {
  const { target } = options;
  const { stream, visibilityFraction, visibilityStream } = options.generator;
  if (target.kind === 'file') {
    // A JSONL file holds one stream's messages.
    if ((visibilityFraction ?? 0) > 0) throw new JobError('USAGE', 'legacy visibility changes (--visibility-fraction) are a second stream: they need Kafka as the target (--to kafka), not a file');
    return FileSink.open(storage, target.path, target.overwrite === true);
  }
  const streams = [stream ?? PAGE_CONTENT_CHANGE_STREAM, ...((visibilityFraction ?? 0) > 0 ? [visibilityStream ?? REVISION_VISIBILITY_CHANGE_STREAM] : [])];
  return KafkaSink.open(target, streams, logger);
}

/** Generates the stream into the target; returns the summary and rate. */
export async function runGen(options: GenRunOptions, logger: Logger): Promise<GenReport> {
  // Before the sink: a bad option must not leave topics behind.
  checkOptions(options.generator);
  const storage = new LocalStorage();
  const sink = await openSink(options, storage, logger);
  let labels: ChunkedWriter | undefined;
  const summary = emptySummary();
  const started = performance.now();
  let nextProgress = started + 10_000;
  try {
    if (options.labelsPath !== undefined) labels = await openWriter(storage, options.labelsPath, options.overwriteLabels === true);
    for (const record of generateRecords(options.generator)) {
      await sink.write(record);
      if (labels !== undefined) await labels.add(Buffer.from(recordLabelLine(record) + '\n', 'utf8'));
      addToSummary(summary, record);
      if (performance.now() >= nextProgress) {
        nextProgress += 10_000;
        logger.info({ records: summary.records, valueBytes: summary.valueBytes }, 'gen progress');
      }
    }
    await sink.close();
    await labels?.close();
  } catch (error) {
    await sink.abort().catch(() => undefined);
    await labels?.abort().catch(() => undefined);
    throw error;
  }
  const seconds = (performance.now() - started) / 1000;
  return { ...summary, target: sink.description, seconds, megabytesPerSecond: summary.valueBytes / 1e6 / seconds };
}
