// Helpers for tests against the real broker: its address (KAFKA_BROKERS, default 127.0.0.1:9092,
// started by `npm run kafka:start` or the test runner), unique names, topics, the one function
// that makes test payloads, producing and reading back.

import assert from 'node:assert/strict';
import { KafkaAdmin, type TopicSpec } from '../../src/kafka/admin.js';
import type { KafkaClientOptions } from '../../src/kafka/client.js';
import { openBoundedSource, type BoundedSourceOptions } from '../../src/kafka/kafkajs-source.js';
import { KafkaProducer, type ProduceRecord, type ProducerOptions } from '../../src/kafka/producer.js';
import type { KafkaBatch, KafkaMessage, PartitionRange } from '../../src/kafka/source.js';
import { generateRecords } from '../../src/gen/generator.js';
import kafkajs from 'kafkajs';
import type { Producer } from 'kafkajs';
import { createKafkajsClient } from '../../src/kafka/client.js';

export const KAFKA_BROKERS: readonly string[] = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092')
  .split(',')
  .map((broker) => broker.trim())
  .filter((broker) => broker.length > 0);

/** Client options for the test broker; fail fast rather than retry for long. */
export function kafkaOptions(extra: Partial<KafkaClientOptions> = {}): KafkaClientOptions {
  return { brokers: KAFKA_BROKERS, clientId: 'mwlake-test', connectionTimeoutMs: 3000, retries: 3, ...extra };
}

let counter = 0;

/** A topic or group name no other test (or earlier run) uses: [a-zA-Z0-9._-] only. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** Fails with a message saying how to start the broker, instead of a timeout deep in a test. */
export async function requireBroker(): Promise<void> {
  try {
    const admin = await KafkaAdmin.connect(kafkaOptions({ retries: 1 }));
    await admin.close();
  } catch (error) {
    assert.fail(
      `no Kafka broker answers at ${KAFKA_BROKERS.join(',')}: start one with \`npm run kafka:start\` ` +
        `(or \`bash scripts/kafka.sh ensure\`), or point KAFKA_BROKERS at one (${(error as Error).message})`,
    );
  }
}

export async function withAdmin<T>(run: (admin: KafkaAdmin) => Promise<T>): Promise<T> {
  const admin = await KafkaAdmin.connect(kafkaOptions());
  try {
    return await run(admin);
  } finally {
    await admin.close();
  }
}

/**
 * Creates a topic with a unique name and returns the name. Retention is off unless the test sets it:
 * test records carry old event timestamps, which time-based retention would delete mid-test.
 */
export async function createTestTopic(prefix: string, partitions: number, configs?: TopicSpec['configs']): Promise<string> {
  const topic = uniqueName(prefix);
  const created = await withAdmin((admin) => admin.createTopic({ topic, partitions, configs: { 'retention.ms': '-1', ...(configs ?? {}) } }));
  assert.equal(created, true, `topic ${topic} already existed`);
  return topic;
}

export interface TestPayload {
  readonly key: string;
  readonly value: Buffer;
  readonly timestampMs: number;
}

/**
 * The payload source of the Kafka tests, and the only one: realistic page_content_change
 * messages (JSON keys `{"wiki_id","page_id"}`, JSON values of varied sizes, median about 4 KB)
 * from the project's generator, deterministic by seed.
 */
export function* testPayloads(count: number, seed = 1): Generator<TestPayload> {
  for (const record of generateRecords({
    seed,
    startMs: Date.UTC(2025, 0, 1),
    events: count,
    stream: 'mwlake.test.page_content_change',
    medianContentBytes: 1200,
    hugePageProbability: 0,
  })) {
    yield { key: record.key, value: record.value, timestampMs: record.timestampMs };
  }
}

/** Produces test records exactly once: idempotent, so a request retried under load cannot duplicate records and shift the offsets tests count on. */
export async function produceRecords(records: Iterable<ProduceRecord>, options: Partial<ProducerOptions> = {}): Promise<void> {
  const producer = await KafkaProducer.connect({ ...kafkaOptions(), idempotent: true, ...options });
  try {
    await producer.sendAll(records);
  } finally {
    await producer.close();
  }
}

/** Ranges from the given positions (default 0) to the current last stable offsets of every partition. */
export async function rangesToEnd(topic: string, from: ReadonlyMap<number, bigint> = new Map()): Promise<PartitionRange[]> {
  const ends = await withAdmin((admin) => admin.fetchEndOffsets([topic]));
  return ends.map(({ partition, offset }) => ({ topic, partition, nextOffset: from.get(partition) ?? 0n, endOffset: offset }));
}

export function boundedOptions(ranges: readonly PartitionRange[], extra: Partial<BoundedSourceOptions> = {}): BoundedSourceOptions {
  return { ...kafkaOptions(), groupId: uniqueName('mwlake-test-group'), ranges, stallTimeoutMs: 20_000, ...extra };
}

/** Reads a bounded range to its end and returns every batch. */
export async function readBounded(ranges: readonly PartitionRange[], extra: Partial<BoundedSourceOptions> = {}): Promise<KafkaBatch[]> {
  const source = await openBoundedSource(boundedOptions(ranges, extra));
  const batches: KafkaBatch[] = [];
  for await (const batch of source) batches.push(batch);
  const positions = new Map(source.positions().map((p) => [`${p.topic}:${p.partition}`, p.nextOffset]));
  for (const range of ranges) {
    assert.equal(positions.get(`${range.topic}:${range.partition}`), range.endOffset, `position of ${range.topic}:${range.partition} after the read`);
  }
  return batches;
}

export function messagesOf(batches: readonly KafkaBatch[]): KafkaMessage[] {
  return batches.flatMap((batch) => batch.messages);
}

/** Polls a condition (no fixed sleeps): resolves once it holds, fails after timeoutMs. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Re-reads `read()` until `done` holds for its value (broker state that settles asynchronously). */
export async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}; last value ${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Grows `topic` to `count` partitions (kafkajs directly: mwlake never adds partitions). */
export async function addPartitions(topic: string, count: number): Promise<void> {
  const admin = createKafkajsClient(kafkaOptions()).admin();
  await admin.connect();
  try {
    await admin.createPartitions({ topicPartitions: [{ topic, count }] });
  } finally {
    await admin.disconnect();
  }
}

/** A connected transactional producer (kafkajs directly: mwlake's producer is not transactional). */
export async function transactionalProducer(id: string): Promise<Producer> {
  const producer = createKafkajsClient(kafkaOptions()).producer({ transactionalId: uniqueName(`mwlake-test-${id}`), idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return producer;
}

/** One transaction of string values to one partition, committed or aborted (kafkajs directly). */
export async function produceTransaction(topic: string, partition: number, values: string[], outcome: 'commit' | 'abort'): Promise<void> {
  const producer = createKafkajsClient(kafkaOptions()).producer({
    transactionalId: `mwlake-test-txn-${topic}-${partition}-${outcome}`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    const transaction = await producer.transaction();
    await transaction.send({
      topic,
      compression: kafkajs.CompressionTypes.Snappy,
      messages: values.map((value) => ({ key: null, value, partition })),
    });
    if (outcome === 'commit') await transaction.commit();
    else await transaction.abort();
  } finally {
    await producer.disconnect();
  }
}
