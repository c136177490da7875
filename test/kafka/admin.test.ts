// KafkaAdmin.createTopic against the real broker: when it resolves, every partition has a leader,
// answers offset reads and accepts records, for topics created back to back and at once.

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { KafkaAdmin } from '../../src/kafka/admin.js';
import { kafkaOptions, produceRecords, requireBroker, uniqueName } from '../helpers/kafka.js';

before(async () => {
  await requireBroker();
});

test('createTopic resolves once every partition has a leader; an existing topic gives false', async () => {
  const admin = await KafkaAdmin.connect(kafkaOptions());
  try {
    const topics = Array.from({ length: 6 }, () => uniqueName('admin-create'));
    const created = await Promise.all(topics.map((topic) => admin.createTopic({ topic, partitions: 12 })));
    assert.deepEqual(created, topics.map(() => true));
    for (const topic of topics) {
      // A fresh client, so nothing comes from a metadata cache warmed by the create.
      const fresh = await KafkaAdmin.connect(kafkaOptions());
      try {
        assert.equal((await fresh.listPartitions([topic])).length, 12, topic);
        // Offset reads right after the create: a partition can answer NOT_LEADER a little longer.
        assert.deepEqual((await fresh.fetchEndOffsets([topic])).map((p) => p.offset), Array(12).fill(0n), topic);
      } finally {
        await fresh.close();
      }
    }
    await produceRecords(topics.flatMap((topic) => Array.from({ length: 12 }, (_, partition) => ({ topic, partition, key: null, value: Buffer.from(`p${partition}`) }))));
    assert.equal(await admin.createTopic({ topic: topics[0]!, partitions: 12 }), false);
  } finally {
    await admin.close();
  }
});
