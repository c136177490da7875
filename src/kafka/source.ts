// The shapes the Kafka layer hands to the rest of mwlake: raw messages in per-partition batches,
// partition ranges and positions. No kafkajs types leak through here, so the client library can
// be replaced behind it. Imports nothing; knows nothing of events or tables.

/** One partition of one topic. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** A Kafka position: the next offset to read in a partition (CONTRIBUTING: always `nextOffset`). */
export interface PartitionPosition extends TopicPartition {
  readonly nextOffset: bigint;
}

/** An offset reported by the broker for a partition (a last stable offset, a log start offset, ...). */
export interface PartitionOffset extends TopicPartition {
  readonly offset: bigint;
}

/** What a bounded read covers in one partition: from nextOffset up to, not including, endOffset. */
export interface PartitionRange extends TopicPartition {
  readonly nextOffset: bigint;
  /** Exclusive; normally the last stable offset captured when the run started. */
  readonly endOffset: bigint;
}

/** Offsets `from`..`to` (inclusive) of a partition that retention deleted before a read got to them. */
export interface PartitionGap extends TopicPartition {
  readonly from: bigint;
  readonly to: bigint;
}

/** One record as stored in Kafka. Bytes are not decoded. */
export interface KafkaMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  /** The record timestamp (producer create time, or log append time if the topic says so). */
  readonly timestampMs: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Key plus value bytes: what the read counts against its memory bound. */
  readonly sizeBytes: number;
}

/** Consecutive messages of one partition, in offset order (offsets may have gaps). */
export interface KafkaBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly KafkaMessage[];
  /** The partition's position after this batch: where a later run resumes if this run stops here. */
  readonly nextOffset: bigint;
  readonly sizeBytes: number;
}

/** Key of a partition in maps: `topic:partition` (topic names cannot contain ':'). */
export function partitionKey(tp: TopicPartition): string {
  return `${tp.topic}:${tp.partition}`;
}

/**
 * A bounded read: an AsyncIterable of batches that ends once every partition has reached its
 * endOffset. Iterate it once; breaking out of the loop (or close) stops the consumer.
 */
export interface BoundedSource extends AsyncIterable<KafkaBatch> {
  /**
   * Position of every partition after the batches handed out so far. After the iteration has
   * ended normally, every position equals its range's endOffset.
   */
  positions(): PartitionPosition[];
  /** With allowGap: the ranges skipped because retention deleted them first, in the order found. */
  gaps(): PartitionGap[];
  /**
   * Waits for the gap checks still running (call before leaving the iteration early, as a cap
   * does: leaving closes the source) and returns the gaps they refused (without allowGap), each
   * with the offset it starts at: a reader must not record a position past one.
   */
  gapCheckFailures(): Promise<readonly GapCheckFailure[]>;
  stats(): BoundedSourceStats;
  close(): Promise<void>;
}

export interface GapCheckFailure {
  readonly topic: string;
  readonly partition: number;
  /** The first offset the gap took. */
  readonly from: bigint;
  readonly error: unknown;
}

export interface BoundedSourceStats {
  /** Messages and key + value bytes handed to the caller so far. */
  readonly messages: number;
  readonly sizeBytes: number;
  /** Bytes read from Kafka and not yet released by the caller (queued plus the batch it holds). */
  readonly bufferedBytes: number;
  readonly peakBufferedBytes: number;
  /** True while fetching is held back until the caller takes more. */
  readonly waitingForSpace: boolean;
}
