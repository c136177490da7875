// The recreated-topic check against the real broker: the record at a stored identity's offset is
// read again and compared; one gone since (retention racing the check) cannot be compared and is
// reported missing.

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { compareIdentities, recordIdentity } from '../../src/kafka/record-identity.js';
import { createTestTopic, kafkaOptions, messagesOf, produceRecords, rangesToEnd, readBounded, requireBroker, testPayloads, uniqueName, withAdmin } from '../helpers/kafka.js';

before(requireBroker);

const options = () => ({ ...kafkaOptions(), groupId: uniqueName('mwlake-test-identity'), stallTimeoutMs: 20_000 });

test('the record read then matches, another record at its offset is named, and one deleted by retention since is missing', { timeout: 120_000 }, async () => {
  const topic = await createTestTopic('mwlake.test.identity', 1);
  await produceRecords([...testPayloads(4, 41)].map((p) => ({ topic, partition: 0, key: p.key, value: p.value, timestampMs: p.timestampMs })));
  const read = messagesOf(await readBounded(await rangesToEnd(topic)));
  const [first, second] = read.map(recordIdentity) as [string, string];
  assert.deepEqual(await compareIdentities(options(), [{ topic, partition: 0, identity: second }]), { mismatched: [], missing: [] });

  const other = `1:${second.split(':')[1]}:0000000000000000`;
  const bad = await compareIdentities(options(), [{ topic, partition: 0, identity: other }]);
  assert.deepEqual(bad, { mismatched: [{ check: { topic, partition: 0, identity: other }, found: second }], missing: [] });

  // The drain planned the check while offset 0 was still there; retention took it before the check ran.
  await withAdmin((a) => a.deleteRecords(topic, [{ partition: 0, beforeOffset: 2n }]));
  assert.deepEqual(await compareIdentities(options(), [{ topic, partition: 0, identity: first }]), { mismatched: [], missing: [{ topic, partition: 0, identity: first }] });
});
