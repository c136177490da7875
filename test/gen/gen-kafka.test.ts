// `mwlake gen --to kafka` against the real broker (KAFKA_BROKERS, default 127.0.0.1:9092, started
// by scripts/kafka.sh): both datacenter topics, created with the requested partitions, every record
// with its key, value and timestamp, per-key order kept. Unique stream names per test.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generateRecords, type GeneratorOptions } from '../../src/gen/generator.js';
import { KafkaAdmin, type PartitionWatermarks } from '../../src/kafka/admin.js';
import { openBoundedSource } from '../../src/kafka/kafkajs-source.js';
import { repoRoot } from '../events/helpers.js';

const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const stream = `mwlake_test_gen_${randomBytes(4).toString('hex')}.v1`;
const topics = [`eqiad.${stream}`, `codfw.${stream}`];

after(async () => {
  const admin = await KafkaAdmin.connect({ brokers });
  try {
    await admin.deleteTopics(topics).catch(() => undefined);
  } finally {
    await admin.close();
  }
});

test('gen --to kafka produces every record to its datacenter topic with its key, value and timestamp', async () => {
  const options: GeneratorOptions = { seed: 5, startMs: Date.parse('2025-06-01T00:00:00Z'), events: 1500, badFraction: 0.05, stream };
  const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  const result = spawnSync(
    process.execPath,
    [cli, '--log-format', 'json', 'gen', '--seed', '5', '--events', '1500', '--bad-fraction', '0.05', '--stream', stream, '--to', 'kafka', '--brokers', brokers.join(','), '--partitions', '4'],
    { encoding: 'utf8' },
  );
  assert.equal(result.status, 0, result.stderr);
  const summary = JSON.parse(result.stdout.trim());
  assert.equal(summary.records, 1500);

  const expected = [...generateRecords(options)];
  const admin = await KafkaAdmin.connect({ brokers });
  let watermarks: PartitionWatermarks[];
  try {
    watermarks = await admin.fetchWatermarks(topics);
  } finally {
    await admin.close();
  }
  assert.deepEqual([...new Set(watermarks.map((w) => w.topic))].sort(), [...topics].sort());
  for (const topic of topics) assert.equal(watermarks.filter((w) => w.topic === topic).length, 4, `${topic} has 4 partitions`);
  for (const topic of topics) {
    const stored = watermarks.filter((w) => w.topic === topic).reduce((n, w) => n + Number(w.endOffset - w.logStartOffset), 0);
    assert.equal(stored, expected.filter((r) => r.topic === topic).length, `${topic}: every record kept (retention must not delete past timestamps)`);
  }

  const source = await openBoundedSource({
    brokers,
    groupId: `mwlake-test-gen-${randomBytes(4).toString('hex')}`,
    ranges: watermarks.map((w) => ({ topic: w.topic, partition: w.partition, nextOffset: w.logStartOffset, endOffset: w.endOffset })),
  });
  const read: Array<{ topic: string; partition: number; key: string; value: Buffer; timestampMs: number }> = [];
  try {
    for await (const batch of source) {
      for (const m of batch.messages) read.push({ topic: m.topic, partition: m.partition, key: m.key!.toString('utf8'), value: m.value ?? Buffer.alloc(0), timestampMs: m.timestampMs });
    }
  } finally {
    await source.close();
  }
  assert.equal(read.length, expected.length);

  // Same multiset of (topic, key, value, timestamp); per topic and key, the generated order.
  const signature = (r: { topic: string; key: string; value: Buffer; timestampMs: number }) => `${r.topic} ${r.key} ${r.timestampMs} ${r.value.toString('base64')}`;
  assert.deepEqual(read.map(signature).sort(), expected.map(signature).sort());
  const partitionOfKey = new Map<string, number>();
  for (const r of read) {
    const seen = partitionOfKey.get(`${r.topic} ${r.key}`);
    assert.ok(seen === undefined || seen === r.partition, `key ${r.key} of ${r.topic} spread over partitions`);
    partitionOfKey.set(`${r.topic} ${r.key}`, r.partition);
  }
  const order = (rows: Array<{ topic: string; key: string; value: Buffer }>) => {
    const byKey = new Map<string, string[]>();
    for (const r of rows) {
      const k = `${r.topic} ${r.key}`;
      byKey.set(k, [...(byKey.get(k) ?? []), r.value.toString('base64')]);
    }
    return byKey;
  };
  assert.deepEqual(order(read), order(expected));
});
