// The sorter's deduplication by meta.id: repeats close together are dropped, and a long run does
// not keep every id it has seen (a catch-up of tens of millions of events would exhaust the heap).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PreparedMessage } from '../../src/events/staged-row.js';
import type { KafkaMessage } from '../../src/kafka/source.js';
import type { EventStager } from '../../src/pipeline/event-files.js';
import { MessageSorter } from '../../src/pipeline/message-sorter.js';

const stager = { addLine: async () => {} } as unknown as EventStager;
let offset = 0n;
const message = (): KafkaMessage => ({ topic: 'eqiad.s', partition: 0, offset: offset++, timestampMs: 0, key: null, value: Buffer.from('{}'), sizeBytes: 2 });
const event = (id: string): PreparedMessage => ({ kind: 'event', id, wikiId: 'enwiki', day: 0, line: Buffer.from('{}\n'), withoutContent: false });

test('repeats within the window are dropped; ids far behind are forgotten, held ones never', async () => {
  const sorter = new MessageSorter(stager, { jobName: 'j', maxMessageBytes: 1000, dedupWindow: 100 });
  sorter.markSeen(['held']);
  for (let i = 0; i < 1000; i++) {
    await sorter.accept(message(), event(`id-${i}`));
    assert.ok(sorter.rememberedIds <= 1 + 2 * 100, `${sorter.rememberedIds} ids held after ${i + 1} events`);
  }
  await sorter.accept(message(), event('id-999')); // just seen: a repeat
  await sorter.accept(message(), event('id-901')); // within the window: a repeat
  await sorter.accept(message(), event('held'));
  await sorter.accept(message(), event('id-5')); // long gone: written again
  assert.deepEqual(sorter.counts, { consumed: 1004, bytes: 2008, written: 1001, filtered: 0, deduplicated: 3, withoutContent: 0 });
});

test('an error event names the record key, and a null value (a tombstone) as such: error 2.1.0 has no field for either', async () => {
  const sorter = new MessageSorter(stager, { jobName: 'j', maxMessageBytes: 1000 });
  const empty: PreparedMessage = { kind: 'invalid', errorType: 'empty_message', message: 'message is empty (0 bytes); expected a JSON object' };
  const at = (key: Buffer | null, value: Buffer | null): KafkaMessage => ({ topic: 'eqiad.s', partition: 1, offset: 7n, timestampMs: 1000, key, value, sizeBytes: 0 });
  await sorter.accept(at(Buffer.from('{"page_id":5}'), null), empty);
  await sorter.accept(at(Buffer.from([0xff, 0x00]), Buffer.alloc(0)), empty);
  await sorter.accept(at(null, Buffer.alloc(0)), empty);
  await sorter.accept(at(Buffer.from('é'.repeat(300)), Buffer.alloc(0)), empty);
  const messages = sorter.takeErrors().map((r) => (JSON.parse(r.value.toString('utf8')) as { message: string }).message);
  assert.deepEqual(messages, [
    'message value is null (a tombstone); message is empty (0 bytes); expected a JSON object (at eqiad.s:1@7, key "{\\"page_id\\":5}")',
    'message is empty (0 bytes); expected a JSON object (at eqiad.s:1@7, key 0xff00)',
    'message is empty (0 bytes); expected a JSON object (at eqiad.s:1@7)',
    `message is empty (0 bytes); expected a JSON object (at eqiad.s:1@7, key "${'é'.repeat(200)}" (300 characters, first 200))`,
  ]);
});

test('an empty meta.id (the schema allows it) names no event: such events are all written, none a repeat', async () => {
  const sorter = new MessageSorter(stager, { jobName: 'j', maxMessageBytes: 1000 });
  for (let i = 0; i < 3; i++) await sorter.accept(message(), event(''));
  assert.deepEqual(sorter.counts, { consumed: 3, bytes: 6, written: 3, filtered: 0, deduplicated: 0, withoutContent: 0 });
});

test('an error event id names the message, not only its coordinates: a recreated topic reuses those for another message', async () => {
  const sorter = new MessageSorter(stager, { jobName: 'j', maxMessageBytes: 1000 });
  const at = (value: string, timestampMs: number): KafkaMessage => ({ topic: 'eqiad.s', partition: 3, offset: 42n, timestampMs, key: null, value: Buffer.from(value), sizeBytes: value.length });
  const invalid: PreparedMessage = { kind: 'invalid', errorType: 'schema_validation', message: 'bad' };
  for (const m of [at('{"a":1}', 1000), at('{"a":1}', 1000), at('{"b":2}', 5000)]) await sorter.accept(m, invalid);
  const ids = sorter.takeErrors().map((r) => (JSON.parse(r.value.toString('utf8')) as { meta: { id: string } }).meta.id);
  assert.equal(ids.length, 3);
  assert.equal(ids[1], ids[0], 'the same message read again gets the same id (a rerun)');
  assert.notEqual(ids[2], ids[0], 'another message at the same offset gets another id');
});
