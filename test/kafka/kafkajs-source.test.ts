// The bounded source against the real broker: round trips, end offsets, resuming, transaction
// markers at the end of a partition, 10 MiB records, backpressure and records lost to retention.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { JobError, OffsetOutOfRangeError } from '../../src/core/errors.js';
import { createKafkajsClient } from '../../src/kafka/client.js';
import { openBoundedSource } from '../../src/kafka/kafkajs-source.js';
import type { KafkaBatch, PartitionRange } from '../../src/kafka/source.js';
import {
  boundedOptions,
  eventually,
  createTestTopic,
  kafkaOptions,
  messagesOf,
  produceRecords,
  produceTransaction,
  rangesToEnd,
  readBounded,
  requireBroker,
  testPayloads,
  transactionalProducer,
  uniqueName,
  waitFor,
  withAdmin,
} from '../helpers/kafka.js';

const MIB = 1024 * 1024;

before(requireBroker);

function fingerprint(key: Buffer | string | null, value: Buffer | null): string {
  const hash = createHash('sha1');
  hash.update(key ?? '<null>');
  hash.update('\0');
  hash.update(value ?? '<null>');
  return hash.digest('hex');
}

function checkBatchInvariants(batches: readonly KafkaBatch[]): void {
  const last = new Map<string, bigint>();
  for (const batch of batches) {
    const key = `${batch.topic}:${batch.partition}`;
    let previous = last.get(key) ?? -1n;
    assert.ok(batch.messages.length > 0, 'batches carry messages');
    let size = 0;
    for (const message of batch.messages) {
      assert.equal(message.topic, batch.topic);
      assert.equal(message.partition, batch.partition);
      assert.ok(message.offset > previous, `offsets increase in ${key}: ${message.offset} after ${previous}`);
      previous = message.offset;
      size += message.sizeBytes;
    }
    assert.equal(batch.sizeBytes, size);
    assert.ok(batch.nextOffset > previous, `nextOffset ${batch.nextOffset} is past the last message ${previous}`);
    last.set(key, previous);
  }
}

describe('bounded source', () => {
  test('reads back 10,000 snappy messages from 4 partitions: count, keys, per-key order and bytes', async () => {
    const topic = await createTestTopic('mwlake-test-roundtrip', 4);
    const payloads = [...testPayloads(10_000)];
    await produceRecords(payloads.map((p) => ({ topic, key: p.key, value: p.value, timestampMs: p.timestampMs })));

    const ranges = await rangesToEnd(topic);
    assert.equal(ranges.reduce((n, r) => n + Number(r.endOffset), 0), 10_000, 'the high watermarks add up to what was produced');
    assert.ok(ranges.every((r) => r.endOffset > 0n), 'keys spread over every partition');

    const batches = await readBounded(ranges);
    checkBatchInvariants(batches);
    const messages = messagesOf(batches);
    assert.equal(messages.length, 10_000);

    // Offsets of a non-transactional topic are contiguous from 0 to the end.
    for (const range of ranges) {
      const offsets = messages.filter((m) => m.partition === range.partition).map((m) => m.offset);
      assert.deepEqual(offsets, Array.from({ length: Number(range.endOffset) }, (_, i) => BigInt(i)));
    }

    // Byte-identical payloads: the same multiset of (key, value) ...
    const produced = payloads.map((p) => fingerprint(p.key, p.value)).sort();
    const consumed = messages.map((m) => fingerprint(m.key, m.value)).sort();
    assert.deepEqual(consumed, produced);
    // ... in the produced order per key (a page's events share a key and a partition) ...
    const byKeyProduced = new Map<string, Buffer[]>();
    for (const p of payloads) byKeyProduced.set(p.key, [...(byKeyProduced.get(p.key) ?? []), p.value]);
    const byKeyConsumed = new Map<string, Buffer[]>();
    const partitionOfKey = new Map<string, number>();
    for (const m of messages) {
      const key = m.key!.toString();
      byKeyConsumed.set(key, [...(byKeyConsumed.get(key) ?? []), m.value!]);
      assert.equal(partitionOfKey.get(key) ?? m.partition, m.partition, `key ${key} stays in one partition`);
      partitionOfKey.set(key, m.partition);
    }
    assert.equal(byKeyConsumed.size, byKeyProduced.size);
    for (const [key, values] of byKeyProduced) {
      const got = byKeyConsumed.get(key) ?? [];
      assert.equal(got.length, values.length, `messages of key ${key}`);
      values.forEach((value, i) => assert.ok(value.equals(got[i]!), `message ${i} of key ${key} is byte-identical`));
    }
    // ... with their timestamps.
    const timestamps = payloads.map((p) => p.timestampMs).sort((a, b) => a - b);
    assert.deepEqual(messages.map((m) => m.timestampMs).sort((a, b) => a - b), timestamps);
  });

  test('does not read messages produced after the end offsets were captured', async () => {
    const topic = await createTestTopic('mwlake-test-ends', 2);
    const payloads = [...testPayloads(300, 2)];
    await produceRecords(payloads.slice(0, 200).map((p) => ({ topic, key: p.key, value: p.value })));
    const ranges = await rangesToEnd(topic);
    await produceRecords(payloads.slice(200).map((p) => ({ topic, key: p.key, value: p.value })));

    const first = messagesOf(await readBounded(ranges));
    assert.equal(first.length, 200);
    assert.deepEqual(first.map((m) => fingerprint(m.key, m.value)).sort(), payloads.slice(0, 200).map((p) => fingerprint(p.key, p.value)).sort());

    // The next run resumes at those ends and reads exactly the rest.
    const next = await rangesToEnd(topic, new Map(ranges.map((r) => [r.partition, r.endOffset])));
    const second = messagesOf(await readBounded(next));
    assert.deepEqual(second.map((m) => fingerprint(m.key, m.value)).sort(), payloads.slice(200).map((p) => fingerprint(p.key, p.value)).sort());
  });

  test('resumes from the given offsets and reads nothing below them', async () => {
    const topic = await createTestTopic('mwlake-test-resume', 2);
    const records = Array.from({ length: 60 }, (_, i) => ({ topic, key: null, value: Buffer.from(`{"n":${i}}`), partition: i % 2 }));
    await produceRecords(records);
    const ranges = await rangesToEnd(topic, new Map([[0, 17n], [1, 30n]]));
    assert.deepEqual(ranges.map((r) => r.endOffset), [30n, 30n]);

    const messages = messagesOf(await readBounded(ranges));
    assert.deepEqual(
      messages.filter((m) => m.partition === 0).map((m) => m.offset),
      Array.from({ length: 13 }, (_, i) => BigInt(17 + i)),
    );
    assert.equal(messages.filter((m) => m.partition === 1).length, 0, 'partition 1 started at its end');
    assert.deepEqual(messages.filter((m) => m.partition === 0).map((m) => m.value!.toString()), Array.from({ length: 13 }, (_, i) => `{"n":${(17 + i) * 2}}`));
  });

  test('finishes over empty partitions, and without joining a group when every range is empty', async () => {
    const topic = await createTestTopic('mwlake-test-empty', 3);
    await produceRecords([{ topic, key: 'k', value: Buffer.from('only'), partition: 1 }]);
    const messages = messagesOf(await readBounded(await rangesToEnd(topic)));
    assert.deepEqual(messages.map((m) => [m.partition, m.offset, m.value!.toString()]), [[1, 0n, 'only']]);

    const caughtUp = (await rangesToEnd(topic)).map((r) => ({ ...r, nextOffset: r.endOffset }));
    const options = boundedOptions(caughtUp);
    const source = await openBoundedSource(options);
    assert.deepEqual(messagesOf(await collect(source)), []);
    assert.equal(await withAdmin((admin) => admin.fetchGroupState(options.groupId)), 'Dead', 'no consumer ever joined the group');
  });

  test('a transaction marker at the end of a partition does not hold the read (committed and aborted)', async () => {
    const topic = await createTestTopic('mwlake-test-txn', 2);
    await produceTransaction(topic, 0, ['a', 'b', 'c'], 'commit');
    await produceTransaction(topic, 1, ['x'], 'commit');
    await produceTransaction(topic, 1, ['aborted-1', 'aborted-2'], 'abort');
    // 3 records + commit marker; 1 record + marker, then 2 aborted records + abort marker. The
    // coordinator writes markers after EndTxn returns, so the end offsets get there shortly.
    const ranges = await eventually('the transaction markers are written', () => rangesToEnd(topic), (r) => r.map((x) => x.endOffset).join() === '4,5');
    assert.deepEqual(ranges.map((r) => r.endOffset), [4n, 5n]);

    const started = Date.now();
    const batches = await readBounded(ranges, { stallTimeoutMs: 10_000 });
    const messages = messagesOf(batches).sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset));
    assert.deepEqual(messages.map((m) => [m.partition, m.offset, m.value!.toString()]), [
      [0, 0n, 'a'],
      [0, 1n, 'b'],
      [0, 2n, 'c'],
      [1, 0n, 'x'],
    ]);
    assert.ok(Date.now() - started < 10_000, 'finished well before the stall timeout');

    // read_uncommitted sees the aborted records, and still ends at the markers.
    const uncommitted = messagesOf(await readBounded(ranges, { isolation: 'read_uncommitted', stallTimeoutMs: 10_000 }));
    assert.deepEqual(uncommitted.filter((m) => m.partition === 1).map((m) => m.value!.toString()), ['x', 'aborted-1', 'aborted-2']);
  });

  test('interleaved aborted transactions deliver none of their records, from any start, and the committed ones between them all', async () => {
    const topic = await createTestTopic('mwlake-test-interleaved-txn', 1);
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => transactionalProducer(`${topic}-${name}`)));
    try {
      // B begins before A but aborts after it: the broker lists aborted transactions in the order
      // they ended, and kafkajs 2.2.4 took them in that order, one per message (patches/).
      const ta = await a.transaction();
      await ta.send({ topic, messages: [{ key: null, value: 'a-aborted-0', partition: 0 }] }); // 0
      const tb = await b.transaction();
      await tb.send({ topic, messages: [{ key: null, value: 'b-aborted-1', partition: 0 }] }); // 1
      await ta.send({ topic, messages: [{ key: null, value: 'a-aborted-2', partition: 0 }] }); // 2
      await ta.abort(); // 3
      const tc = await c.transaction();
      await tc.send({ topic, messages: [{ key: null, value: 'c-committed-4', partition: 0 }] }); // 4
      await tc.commit(); // 5
      await tb.send({ topic, messages: [{ key: null, value: 'b-aborted-6', partition: 0 }] }); // 6
      await tb.abort(); // 7
    } finally {
      await Promise.all([a, b, c].map((p) => p.disconnect()));
    }
    await eventually('the transaction markers are written', () => rangesToEnd(topic), (r) => r[0]!.endOffset === 8n);
    for (const from of [0n, 1n, 2n, 4n]) {
      const ranges = await rangesToEnd(topic, new Map([[0, from]]));
      const values = messagesOf(await readBounded(ranges)).map((m) => `${m.offset}:${m.value!.toString()}`);
      assert.deepEqual(values, ['4:c-committed-4'], `read from ${from}`);
    }
  });

  test('an aborted record keyed as an abort marker (4 zero bytes) is not taken for the marker: the records after it in its transaction stay aborted', async () => {
    const topic = await createTestTopic('mwlake-test-keyed-abort', 1);
    const [a, c] = await Promise.all(['a', 'c'].map((name) => transactionalProducer(`${topic}-${name}`)));
    try {
      const ta = await a.transaction();
      await ta.send({ topic, messages: [{ key: null, value: 'a-aborted-0', partition: 0 }] }); // 0
      await ta.send({ topic, messages: [{ key: Buffer.from([0, 0, 0, 0]), value: 'a-aborted-1', partition: 0 }] }); // 1
      await ta.send({ topic, messages: [{ key: null, value: 'a-aborted-2', partition: 0 }] }); // 2
      await ta.abort(); // 3
      const tc = await c.transaction();
      await tc.send({ topic, messages: [{ key: null, value: 'c-committed-4', partition: 0 }] }); // 4
      await tc.commit(); // 5
    } finally {
      await Promise.all([a, c].map((p) => p.disconnect()));
    }
    await eventually('the transaction markers are written', () => rangesToEnd(topic), (r) => r[0]!.endOffset === 6n);
    for (const from of [0n, 1n]) {
      const values = messagesOf(await readBounded(await rangesToEnd(topic, new Map([[0, from]])))).map((m) => `${m.offset}:${m.value!.toString()}`);
      assert.deepEqual(values, ['4:c-committed-4'], `read from ${from}`);
    }
  });

  test('a transaction still open when the end offsets are taken: the end is its first offset (the last stable offset), and the read does not wait for it', async () => {
    const topic = await createTestTopic('mwlake-test-open-txn', 1);
    await produceRecords([{ topic, partition: 0, key: null, value: Buffer.from('a') }, { topic, partition: 0, key: null, value: Buffer.from('b') }]);
    const producer = createKafkajsClient(kafkaOptions()).producer({ transactionalId: uniqueName('mwlake-test-open-txn'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const transaction = await producer.transaction();
      await transaction.send({ topic, messages: [{ key: null, value: 'in-transaction', partition: 0 }] });
      await produceRecords([{ topic, partition: 0, key: null, value: Buffer.from('c') }]);
      // kafkajs's admin lists offsets read_committed: offset 2 (the open transaction's first) is
      // where a read_committed consumer would wait, so the run ends before it; the next run reads on.
      const ranges = await rangesToEnd(topic);
      assert.deepEqual(ranges.map((r) => r.endOffset), [2n]);
      const started = Date.now();
      assert.deepEqual(messagesOf(await readBounded(ranges, { stallTimeoutMs: 10_000 })).map((m) => m.value!.toString()), ['a', 'b']);
      assert.ok(Date.now() - started < 10_000, 'finished well before the stall timeout');
      await transaction.commit();
    } finally {
      await producer.disconnect();
    }
    const next = await eventually('the commit marker is written', () => rangesToEnd(topic, new Map([[0, 2n]])), (r) => r[0]!.endOffset === 5n);
    assert.deepEqual(messagesOf(await readBounded(next)).map((m) => m.value!.toString()), ['in-transaction', 'c']);
  });

  test('round-trips a 10 MiB and a 12 MiB record between small ones', async () => {
    const topic = await createTestTopic('mwlake-test-large', 1);
    const big = [randomBytes(10 * MIB), randomBytes(12 * MIB)];
    await produceRecords([
      { topic, key: 'before', value: Buffer.from('small') },
      { topic, key: 'ten', value: big[0]! },
      { topic, key: 'twelve', value: big[1]! },
      { topic, key: 'after', value: Buffer.from('small') },
    ]);
    // Fetch limits far below the records: brokers still return one whole record batch (KIP-74).
    const messages = messagesOf(await readBounded(await rangesToEnd(topic), { maxBytesPerPartition: MIB, maxFetchBytes: 2 * MIB, maxBufferedBytes: MIB }));
    assert.deepEqual(messages.map((m) => m.key!.toString()), ['before', 'ten', 'twelve', 'after']);
    assert.ok(messages[1]!.value!.equals(big[0]!), 'the 10 MiB value is byte-identical');
    assert.ok(messages[2]!.value!.equals(big[1]!), 'the 12 MiB value is byte-identical');
    assert.equal(messages[2]!.sizeBytes, 12 * MIB + 'twelve'.length);
  });

  // Random values: the broker's byte limits count compressed batches, and 64 KiB of one letter
  // compresses so well under snappy that one 256 KiB fetch returned the whole 10 MiB partition.
  test('does not run ahead of a slow caller: buffered bytes stay near the bound', async (t) => {
    const topic = await createTestTopic('mwlake-test-backpressure', 1);
    const value = randomBytes(64 * 1024);
    // One record per record batch: a broker returns at least one whole batch per fetch (KIP-74).
    await produceRecords(Array.from({ length: 160 }, (_, i) => ({ topic, key: String(i), value })), { batchBytes: 1 });
    const maxBufferedBytes = MIB;
    const maxBytesPerPartition = 256 * 1024;
    const source = await openBoundedSource(boundedOptions(await rangesToEnd(topic), { maxBufferedBytes, maxBytesPerPartition }));
    t.after(() => source.close());
    const iterator = source[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.done, false);

    // The caller holds its first batch and takes nothing more: the source fills up and stops.
    await waitFor('the source to stop fetching', () => source.stats().waitingForSpace);
    const stalled = source.stats();
    assert.ok(stalled.bufferedBytes >= maxBufferedBytes, `buffered ${stalled.bufferedBytes} reached the bound`);
    // One fetch of one partition can overshoot the bound by at most maxBytesPerPartition.
    assert.ok(stalled.bufferedBytes <= maxBufferedBytes + maxBytesPerPartition + value.length, `buffered ${stalled.bufferedBytes} stays near the bound`);
    assert.ok(source.positions()[0]!.nextOffset < 160n);

    let count = (first.value as KafkaBatch).messages.length;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) count += next.value.messages.length;
    assert.equal(count, 160);
    assert.ok(source.stats().peakBufferedBytes <= maxBufferedBytes + maxBytesPerPartition + value.length);
    assert.equal(source.positions()[0]!.nextOffset, 160n);
  });

  test('refuses a position below the log start offset (records deleted before the read)', async () => {
    const topic = await createTestTopic('mwlake-test-deleted', 1);
    await produceRecords(Array.from({ length: 20 }, (_, i) => ({ topic, key: null, value: Buffer.from(String(i)) })));
    await withAdmin((admin) => admin.deleteRecords(topic, [{ partition: 0, beforeOffset: 12n }]));
    const ranges = await rangesToEnd(topic, new Map([[0, 5n]]));
    await assert.rejects(openBoundedSource(boundedOptions(ranges)), (error: unknown) => {
      assert.ok(error instanceof OffsetOutOfRangeError, String(error));
      assert.match(error.message, /position 5 of .*:0 is below the log start offset 12: records 5\.\.11 were deleted/);
      return true;
    });
    // From the log start on, the read works.
    const rest = messagesOf(await readBounded(await rangesToEnd(topic, new Map([[0, 12n]]))));
    assert.deepEqual(rest.map((m) => m.value!.toString()), ['12', '13', '14', '15', '16', '17', '18', '19']);
  });

  // Random values, as above: compressible ones all arrive in the first fetch, before the deletion.
  test('fails with OffsetOutOfRangeError when retention deletes records the read has not reached', async (t) => {
    const topic = await createTestTopic('mwlake-test-retention', 1);
    const value = randomBytes(16 * 1024);
    await produceRecords(Array.from({ length: 100 }, (_, i) => ({ topic, key: String(i), value })), { batchBytes: 1 });
    const source = await openBoundedSource(
      boundedOptions(await rangesToEnd(topic), { maxBufferedBytes: 64 * 1024, maxBytesPerPartition: 64 * 1024 }),
    );
    t.after(() => source.close());
    const iterator = source[Symbol.asyncIterator]();
    await iterator.next();
    await waitFor('the source to stop fetching', () => source.stats().waitingForSpace);
    await withAdmin((admin) => admin.deleteRecords(topic, [{ partition: 0, beforeOffset: 90n }]));
    await assert.rejects(
      (async () => {
        for (let next = await iterator.next(); !next.done; next = await iterator.next());
      })(),
      (error: unknown) => {
        assert.ok(error instanceof OffsetOutOfRangeError, String(error));
        assert.match(error.message, /log start offset is now 90/);
        return true;
      },
    );
  });

  test('with allowGap, records retention deleted before or during the read are skipped and reported as gaps', async (t) => {
    const topic = await createTestTopic('mwlake-test-retention-allowed', 1);
    const value = randomBytes(16 * 1024);
    await produceRecords(Array.from({ length: 100 }, (_, i) => ({ topic, key: String(i), value })), { batchBytes: 1 });
    // Deleted between planning and opening: the read starts at the log start.
    await withAdmin((admin) => admin.deleteRecords(topic, [{ partition: 0, beforeOffset: 10n }]));
    const source = await openBoundedSource(
      boundedOptions(await rangesToEnd(topic, new Map([[0, 5n]])), { maxBufferedBytes: 64 * 1024, maxBytesPerPartition: 64 * 1024, allowGap: true }),
    );
    t.after(() => source.close());
    const offsets: bigint[] = [];
    const iterator = source[Symbol.asyncIterator]();
    let next = await iterator.next();
    for (const m of next.done === true ? [] : next.value.messages) offsets.push(m.offset);
    await waitFor('the source to stop fetching', () => source.stats().waitingForSpace);
    // Deleted while the read holds back: it goes on from the new log start.
    await withAdmin((admin) => admin.deleteRecords(topic, [{ partition: 0, beforeOffset: 90n }]));
    for (next = await iterator.next(); next.done !== true; next = await iterator.next()) for (const m of next.value.messages) offsets.push(m.offset);
    const gaps = source.gaps().map((g) => `${g.topic}:${g.partition} ${g.from}..${g.to}`);
    assert.equal(gaps.length, 2, gaps.join('; '));
    assert.equal(gaps[0], `${topic}:0 5..9`);
    const [, from, to] = /(\d+)\.\.(\d+)$/.exec(gaps[1]!)!.map(Number) as [number, number, number];
    assert.equal(to, 89);
    // Every offset is read or reported, once.
    assert.deepEqual([...offsets.map(Number), ...Array.from({ length: to - from + 1 }, (_, i) => from + i)].sort((a, b) => a - b), Array.from({ length: 95 }, (_, i) => 5 + i).filter((o) => o >= 10));
    assert.deepEqual(source.positions().map((p) => p.nextOffset), [100n]);
  });

  test('with allowGap, a range retention emptied before the read opened ends at once as a gap', async () => {
    const topic = await createTestTopic('mwlake-test-retention-emptied', 1);
    await produceRecords(Array.from({ length: 10 }, (_, i) => ({ topic, key: null, value: Buffer.from(String(i)) })));
    const ranges = await rangesToEnd(topic, new Map([[0, 5n]]));
    // Nothing left to fetch: a read seeking below the log start would wait for records that never come.
    await withAdmin((admin) => admin.deleteRecords(topic, [{ partition: 0, beforeOffset: 10n }]));
    const source = await openBoundedSource(boundedOptions(ranges, { allowGap: true, stallTimeoutMs: 3000 }));
    assert.deepEqual(messagesOf(await (async () => {
      const batches: KafkaBatch[] = [];
      for await (const batch of source) batches.push(batch);
      return batches;
    })()), []);
    assert.deepEqual(source.gaps().map((g) => [g.from, g.to]), [[5n, 9n]]);
    assert.deepEqual(source.positions().map((p) => p.nextOffset), [10n]);
  });

  test('with allowGap, a gap whose first batch after it holds only aborted records is reported too', async () => {
    const topic = await createTestTopic('mwlake-test-retention-aborted', 1);
    await produceRecords(Array.from({ length: 10 }, (_, i) => ({ topic, key: null, value: Buffer.from(String(i)) })));
    await produceTransaction(topic, 0, ['aborted-10', 'aborted-11'], 'abort');
    await produceRecords(['13', '14'].map((v) => ({ topic, key: null, value: Buffer.from(v) })));
    const ranges = await eventually('the abort marker is written', () => rangesToEnd(topic, new Map([[0, 5n]])), (r) => r[0]!.endOffset === 15n);
    await withAdmin((admin) => admin.deleteRecords(topic, [{ partition: 0, beforeOffset: 10n }]));
    // One record batch per fetch: the first one after the gap is the aborted one (kafkajs's END_BATCH_PROCESS path).
    const source = await openBoundedSource(boundedOptions(ranges, { maxBytesPerPartition: 1, allowGap: true, stallTimeoutMs: 10_000 }));
    const values: string[] = [];
    for await (const batch of source) for (const m of batch.messages) values.push(m.value!.toString());
    assert.deepEqual(values, ['13', '14']);
    assert.deepEqual(source.gaps().map((g) => [g.from, g.to]), [[5n, 9n]]);
  });

  test('retention deleting every record the read has not reached is a gap, not a stall', async (t) => {
    for (const allowGap of [false, true]) {
      const topic = await createTestTopic('mwlake-test-retention-all', 1);
      const value = randomBytes(16 * 1024);
      await produceRecords(Array.from({ length: 100 }, (_, i) => ({ topic, key: String(i), value })), { batchBytes: 1 });
      const source = await openBoundedSource(
        boundedOptions(await rangesToEnd(topic), { maxBufferedBytes: 64 * 1024, maxBytesPerPartition: 64 * 1024, stallTimeoutMs: 1500, allowGap }),
      );
      t.after(() => source.close());
      const iterator = source[Symbol.asyncIterator]();
      const first = await iterator.next();
      const read = first.done === true ? 0 : first.value.messages.length;
      await waitFor('the source to stop fetching', () => source.stats().waitingForSpace);
      // Nothing is left after the deletion: kafkajs goes on from the log start, where no record comes.
      await withAdmin((admin) => admin.deleteRecords(topic, [{ partition: 0, beforeOffset: 100n }]));
      const rest = (async () => {
        let n = read;
        for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) n += next.value.messages.length;
        return n;
      })();
      if (!allowGap) {
        await assert.rejects(rest, (error: unknown) => error instanceof OffsetOutOfRangeError && /log start offset is now 100/.test(error.message));
        continue;
      }
      const n = await rest;
      const gaps = source.gaps();
      assert.equal(gaps.length, 1);
      assert.deepEqual([gaps[0]!.from, gaps[0]!.to], [BigInt(n), 99n]);
      assert.deepEqual(source.positions().map((p) => p.nextOffset), [100n]);
    }
  });

  test('stops the consumer and leaves the group when the caller breaks out early', async () => {
    const topic = await createTestTopic('mwlake-test-break', 1);
    await produceRecords(Array.from({ length: 50 }, (_, i) => ({ topic, key: null, value: Buffer.from(String(i)) })), { batchBytes: 1 });
    const options = boundedOptions(await rangesToEnd(topic), { maxBytesPerPartition: 64 });
    const source = await openBoundedSource(options);
    for await (const batch of source) {
      assert.ok(batch.messages.length > 0);
      break;
    }
    const state = await withAdmin((admin) => admin.fetchGroupState(options.groupId));
    assert.equal(state, 'Empty', 'the member left the group');
    assert.ok(source.positions()[0]!.nextOffset < 50n);
  });

  test('reports a broker that does not answer as UNAVAILABLE naming the brokers', async () => {
    const ranges: PartitionRange[] = [{ topic: 't', partition: 0, nextOffset: 0n, endOffset: 1n }];
    await assert.rejects(
      openBoundedSource({ ...boundedOptions(ranges), brokers: ['127.0.0.1:1'], retries: 0, connectionTimeoutMs: 500 }),
      (error: unknown) => {
        assert.ok(error instanceof JobError);
        assert.equal(error.code, 'UNAVAILABLE');
        assert.match(error.message, /127\.0\.0\.1:1/);
        return true;
      },
    );
  });
});

async function collect(source: AsyncIterable<KafkaBatch>): Promise<KafkaBatch[]> {
  const batches: KafkaBatch[] = [];
  for await (const batch of source) batches.push(batch);
  return batches;
}
