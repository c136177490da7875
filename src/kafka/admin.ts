// Admin operations over kafkajs: partitions, watermarks, offsets for timestamps, topics, record
// deletion and consumer-group offsets. Every offset is a bigint; every failure a JobError naming
// the brokers. Imports core, kafkajs (through client.ts) and source.ts types only.

import type { Admin, Consumer } from 'kafkajs';
import { JobError } from '../core/errors.js';
import { createKafkajsClient, isLeadershipChange, toJobError, type KafkaClientOptions } from './client.js';
import { partitionKey, type PartitionOffset, type PartitionPosition, type TopicPartition } from './source.js';

/** Both ends of a partition's log: records live in [logStartOffset, endOffset). */
export interface PartitionWatermarks extends TopicPartition {
  readonly logStartOffset: bigint;
  /**
   * The last stable offset: the high watermark, or the first offset of the oldest transaction
   * still open. A read_committed read gets to it without waiting for any transaction.
   */
  readonly endOffset: bigint;
}

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  /** Default: the broker's default.replication.factor. */
  readonly replicationFactor?: number;
  /** Topic configs, e.g. `{ 'cleanup.policy': 'compact', 'retention.ms': '-1' }`. */
  readonly configs?: Readonly<Record<string, string>>;
}

/** Records to delete: everything below beforeOffset becomes unreadable (the log start moves up). */
export interface DeleteRecordsSpec {
  readonly partition: number;
  readonly beforeOffset: bigint;
}

/** How long an offset read waits for partition leaders: an election takes seconds, a broker restart tens of them. */
const LEADERSHIP_WAIT_MS = 30_000;

export interface RetryOptions {
  /** Errors worth another try; any other is thrown at once. */
  readonly retryable: (error: unknown) => boolean;
  readonly timeoutMs: number;
  /** The first pause; each next one doubles, up to maxDelayMs. Defaults: 50 ms and 1 s. */
  readonly firstDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Runs before each retry, after the pause (e.g. a metadata refresh). */
  readonly beforeRetry?: () => Promise<void>;
}

/** Runs `run` again while it fails with a retryable error; the last error is thrown once the next pause would pass the deadline. */
export async function retryWhile<T>(run: () => Promise<T>, options: RetryOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (let delayMs = options.firstDelayMs ?? 50; ; delayMs = Math.min(delayMs * 2, options.maxDelayMs ?? 1000)) {
    try {
      return await run();
    } catch (error) {
      if (!options.retryable(error) || Date.now() + delayMs > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    await options.beforeRetry?.();
  }
}

/** A just-created topic's metadata that does not show a leader for every partition yet. */
class LeadersPending extends Error {}

/** What a KRaft broker answers about a topic its metadata cache has not fully taken in yet. */
const SETTLING_TOPIC = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);
const kafkaErrorType = (error: unknown): string | undefined => (error as { type?: string }).type;

const byTopicPartition = (a: TopicPartition, b: TopicPartition) =>
  a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;

/** A connected admin client. Create with `KafkaAdmin.connect`, end with `close`. */
export class KafkaAdmin {
  private constructor(
    private readonly kafka: ReturnType<typeof createKafkajsClient>,
    private readonly admin: Admin,
    private readonly options: KafkaClientOptions,
  ) {}

  static async connect(options: KafkaClientOptions): Promise<KafkaAdmin> {
    const kafka = createKafkajsClient(options);
    const admin = kafka.admin();
    try {
      await admin.connect();
    } catch (error) {
      throw toJobError(error, 'connecting the Kafka admin client', options.brokers);
    }
    return new KafkaAdmin(kafka, admin, options);
  }

  async close(): Promise<void> {
    await this.admin.disconnect();
  }

  /** Every partition of the topics, sorted; NOT_FOUND if a topic does not exist. */
  async listPartitions(topics: readonly string[]): Promise<TopicPartition[]> {
    const metadata = await this.call(`listing the partitions of ${topics.join(', ')}`, () =>
      this.admin.fetchTopicMetadata({ topics: [...topics] }),
    );
    return metadata.topics
      .flatMap(({ name, partitions }) => partitions.map(({ partitionId }) => ({ topic: name, partition: partitionId })))
      .sort(byTopicPartition);
  }

  /** Log start offset and last stable offset of every partition of the topics, sorted. */
  async fetchWatermarks(topics: readonly string[]): Promise<PartitionWatermarks[]> {
    const result: PartitionWatermarks[] = [];
    for (const topic of topics) {
      // kafkajs's admin sends ListOffsets (v2 and later) with its default isolation level,
      // READ_COMMITTED, so `high` is the last stable offset, not the high watermark (tested with
      // an open transaction), and `low` the log start offset.
      const offsets = await this.readOffsets(`fetching the offsets of ${topic}`, topic, () => this.admin.fetchTopicOffsets(topic));
      for (const { partition, low, high } of offsets) {
        result.push({ topic, partition, logStartOffset: BigInt(low), endOffset: BigInt(high) });
      }
    }
    return result.sort(byTopicPartition);
  }

  /** Last stable offsets: where each partition's committed records end (see PartitionWatermarks). */
  async fetchEndOffsets(topics: readonly string[]): Promise<PartitionOffset[]> {
    return (await this.fetchWatermarks(topics)).map(({ topic, partition, endOffset }) => ({ topic, partition, offset: endOffset }));
  }

  /** Log start offsets: the first offset retention (or deleteRecords) has not removed. */
  async fetchLogStartOffsets(topics: readonly string[]): Promise<PartitionOffset[]> {
    return (await this.fetchWatermarks(topics)).map(({ topic, partition, logStartOffset }) => ({ topic, partition, offset: logStartOffset }));
  }

  /**
   * The first offset whose record timestamp is at or after timestampMs, per partition; the last
   * stable offset where no record is that recent (kafkajs fills it in for Kafka's -1).
   */
  async fetchOffsetsForTimestamp(topics: readonly string[], timestampMs: number): Promise<PartitionOffset[]> {
    const result: PartitionOffset[] = [];
    for (const topic of topics) {
      const offsets = await this.readOffsets(`fetching the offsets of ${topic} at ${new Date(timestampMs).toISOString()}`, topic, () =>
        this.admin.fetchTopicOffsetsByTimestamp(topic, timestampMs),
      );
      for (const { partition, offset } of offsets) result.push({ topic, partition, offset: BigInt(offset) });
    }
    return result.sort(byTopicPartition);
  }

  /**
   * Creates the topic and waits until every partition has a leader; false if it already existed.
   * kafkajs's own wait (waitForLeaders) retries only LEADER_NOT_AVAILABLE, but a KRaft broker
   * answers UNKNOWN_TOPIC_OR_PARTITION until its metadata cache has the new topic (seen right
   * after a broker start), so the wait is ours and retries both.
   */
  async createTopic(spec: TopicSpec, o: { leaderTimeoutMs?: number } = {}): Promise<boolean> {
    const created = await this.call(`creating topic ${spec.topic}`, () =>
      this.admin.createTopics({
        waitForLeaders: false,
        topics: [
          {
            topic: spec.topic,
            numPartitions: spec.partitions,
            replicationFactor: spec.replicationFactor ?? -1,
            configEntries: Object.entries(spec.configs ?? {}).map(([name, value]) => ({ name, value })),
          },
        ],
      }),
    );
    await this.waitForLeaders(spec.topic, o.leaderTimeoutMs ?? 30_000);
    return created;
  }

  /**
   * Creates the topic only when its metadata says it is missing; true if this call created it.
   * A client allowed to write a topic but not to create topics is refused a CreateTopics request
   * (TOPIC_AUTHORIZATION_FAILED) even for a topic that exists, so one is never sent needlessly.
   */
  async createTopicIfMissing(spec: TopicSpec): Promise<boolean> {
    const { topics } = await this.call(`looking up topic ${spec.topic}`, () => this.admin.fetchTopicMetadata({ topics: [spec.topic] })).catch((error: unknown) => {
      if (error instanceof JobError && error.code === 'NOT_FOUND') return { topics: [] };
      throw error;
    });
    if ((topics[0]?.partitions.length ?? 0) > 0) return false;
    return this.createTopic(spec);
  }

  private async waitForLeaders(topic: string, timeoutMs: number): Promise<void> {
    const settled = async () => {
      const { topics } = await this.admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = topics[0]?.partitions ?? [];
      const leaderless = partitions.filter((p) => p.leader < 0).length;
      if (partitions.length === 0 || leaderless > 0) throw new LeadersPending(`${leaderless} of ${partitions.length} partitions without a leader`);
    };
    const retryable = (error: unknown) => error instanceof LeadersPending || SETTLING_TOPIC.has(kafkaErrorType(error) ?? '');
    try {
      await retryWhile(settled, { retryable, timeoutMs, firstDelayMs: 20, maxDelayMs: 500 });
    } catch (error) {
      if (!retryable(error)) throw toJobError(error, `waiting for the leaders of ${topic}`, this.options.brokers);
      const found = error instanceof LeadersPending ? error.message : kafkaErrorType(error);
      throw new JobError('UNAVAILABLE', `topic ${topic} was created, but its partitions have no leader after ${timeoutMs} ms (last seen: ${found}) on ${this.options.brokers.join(',')}`, {
        context: { topic },
      });
    }
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    await this.call(`deleting topics ${topics.join(', ')}`, () => this.admin.deleteTopics({ topics: [...topics] }));
  }

  /** Deletes the records below each beforeOffset (DeleteRecords), as retention would. */
  async deleteRecords(topic: string, partitions: readonly DeleteRecordsSpec[]): Promise<void> {
    // kafkajs resolves partition leaders from its metadata cache, which has not seen a topic this client did not read.
    await this.call(`loading metadata of ${topic}`, () => this.admin.fetchTopicMetadata({ topics: [topic] }));
    await this.call(`deleting records of ${topic}`, () =>
      this.admin.deleteTopicRecords({
        topic,
        partitions: partitions.map(({ partition, beforeOffset }) => ({ partition, offset: beforeOffset.toString() })),
      }),
    );
  }

  /** Committed positions of a consumer group; partitions without a committed offset are left out. */
  async fetchGroupOffsets(groupId: string, topics: readonly string[]): Promise<PartitionPosition[]> {
    const response = await this.call(`fetching the offsets of group ${groupId}`, () =>
      this.admin.fetchOffsets({ groupId, topics: [...topics] }),
    );
    return response
      .flatMap(({ topic, partitions }) =>
        partitions.filter(({ offset }) => BigInt(offset) >= 0n).map(({ partition, offset }) => ({ topic, partition, nextOffset: BigInt(offset) })),
      )
      .sort(byTopicPartition);
  }

  /** Deletes consumer groups that have no members (with their committed offsets). */
  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    await this.call(`deleting groups ${groupIds.join(', ')}`, () => this.admin.deleteGroups([...groupIds]));
  }

  /** The classic group state: Empty or Dead when no consumer is a member, else Stable, PreparingRebalance, ... */
  async fetchGroupState(groupId: string): Promise<string> {
    const groups = await this.call(`describing group ${groupId}`, () => this.admin.describeGroups([groupId]));
    return groups.groups[0]?.state ?? 'Dead';
  }

  /**
   * Commits positions for a consumer group that has no running members, so standard tools
   * (kafka-consumer-groups.sh, Burrow) show the drain's lag. The table, not the group, is the
   * source of truth for where a run starts.
   *
   * kafkajs offers no group-less OffsetCommit (Java's AdminClient.alterConsumerGroupOffsets), and
   * its admin.setOffsets handles one topic per group join. This does what setOffsets does for all
   * topics at once: join the empty group with every partition paused, commit, leave. The result
   * is read back, because kafkajs's runner drops a commit silently when it has stopped.
   */
  async commitGroupOffsets(groupId: string, positions: readonly PartitionPosition[]): Promise<void> {
    if (positions.length === 0) return;
    const operation = `committing offsets of group ${groupId}`;
    const topics = [...new Set(positions.map((p) => p.topic))].sort();
    const known = new Set((await this.listPartitions(topics)).map(partitionKey));
    const unknown = positions.filter((p) => !known.has(partitionKey(p)));
    if (unknown.length > 0) {
      throw new JobError('NOT_FOUND', `${operation} failed: no such partitions ${unknown.map(partitionKey).join(', ')}`);
    }
    const state = await this.fetchGroupState(groupId);
    if (state !== 'Empty' && state !== 'Dead') {
      throw new JobError('TEMPORARY', `${operation} failed: the group has running members (state ${state}), expected none`, {
        context: { groupId, state },
      });
    }

    const consumer: Consumer = this.kafka.consumer({
      groupId,
      maxWaitTimeInMs: 100,
      retry: { retries: this.options.retries ?? 5, restartOnFailure: async () => false },
    });
    try {
      await this.call(operation, async () => {
        let crashed: unknown;
        consumer.on(consumer.events.CRASH, (event) => {
          crashed = event.payload.error;
        });
        // Paused on join, before the runner's first fetch: this consumer never reads.
        consumer.on(consumer.events.GROUP_JOIN, () => consumer.pause(topics.map((topic) => ({ topic }))));
        await consumer.connect();
        await consumer.subscribe({ topics, fromBeginning: true });
        await consumer.run({ autoCommit: false, eachBatch: async () => {} });
        if (crashed !== undefined) throw crashed;
        await consumer.commitOffsets(positions.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.nextOffset.toString() })));
      });
    } finally {
      await consumer.disconnect().catch(() => {});
    }

    const committed = new Map((await this.fetchGroupOffsets(groupId, topics)).map((p) => [partitionKey(p), p.nextOffset]));
    const missing = positions.filter((p) => committed.get(partitionKey(p)) !== p.nextOffset);
    if (missing.length > 0) {
      const found = missing.map((p) => `${partitionKey(p)} expected ${p.nextOffset} found ${committed.get(partitionKey(p)) ?? 'none'}`);
      throw new JobError('UNAVAILABLE', `${operation} did not take effect: ${found.join('; ')}`, { context: { groupId } });
    }
  }

  /** An offset read that waits out leadership moving on the topic's partitions, with fresh metadata each try. */
  private async readOffsets<T>(operation: string, topic: string, run: () => Promise<T>): Promise<T> {
    return this.call(operation, () =>
      retryWhile(run, {
        retryable: isLeadershipChange,
        timeoutMs: LEADERSHIP_WAIT_MS,
        // kafkajs's offset reads refresh metadata only when it is older than metadataMaxAge (5 min).
        beforeRetry: () => this.admin.fetchTopicMetadata({ topics: [topic] }).then(() => undefined),
      }),
    );
  }

  private async call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toJobError(error, operation, this.options.brokers);
    }
  }
}
