// kafkajs's filter of aborted transactional records, as patched (patches/kafkajs+2.2.4.patch, applied
// by npm's postinstall): without the patch a read_committed drain delivered aborted records.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { ConfigError } from '../../src/core/errors.js';
import { checkAbortedFilter } from '../../src/kafka/aborted-filter-check.js';

type Message = { offset: string; key: Buffer | null; isControlRecord: boolean; batchContext: { producerId: string; inTransaction: boolean } };
const filterAbortedMessages = createRequire(import.meta.url)('kafkajs/src/consumer/filterAbortedMessages.js') as (o: {
  messages: Message[];
  abortedTransactions: { firstOffset: string; producerId: string }[];
}) => Message[];

const ABORT = Buffer.from([0, 0, 0, 0]);
const COMMIT = Buffer.from([0, 0, 0, 1]);
const record = (offset: number, producerId: string, key: Buffer | null = null): Message => ({ offset: String(offset), key, isControlRecord: false, batchContext: { producerId, inTransaction: true } });
const marker = (offset: number, producerId: string, key: Buffer): Message => ({ offset: String(offset), key, isControlRecord: true, batchContext: { producerId, inTransaction: true } });
const kept = (messages: Message[], abortedTransactions: { firstOffset: string; producerId: string }[]) =>
  filterAbortedMessages({ messages, abortedTransactions }).filter((m) => !m.isControlRecord).map((m) => Number(m.offset));

// a: 0, 2, abort 3; b: 1, 6, abort 7; c: 4, commit 5. The broker lists a before b (the order they ended).
const log = [record(0, 'a'), record(1, 'b'), record(2, 'a'), marker(3, 'a', ABORT), record(4, 'c'), marker(5, 'c', COMMIT), record(6, 'b'), marker(7, 'b', ABORT)];
const aborted = [
  { firstOffset: '0', producerId: 'a' },
  { firstOffset: '1', producerId: 'b' },
];

test('a read from the start of interleaved aborted transactions keeps only the committed record', () => {
  assert.deepEqual(kept(log, aborted), [4]);
});

test('a read that starts inside two aborted transactions marks both, not one per record', () => {
  assert.deepEqual(kept(log.slice(1), aborted), [4]);
});

test('aborted transactions listed in the order they ended, not by first offset, are sorted first', () => {
  const bFirst = [record(0, 'b'), record(1, 'a'), marker(2, 'a', ABORT), record(3, 'b'), marker(4, 'b', ABORT), record(5, 'a')];
  // a's record at 5 is outside any transaction the broker lists: a later, committed one.
  assert.deepEqual(kept(bFirst, [{ firstOffset: '1', producerId: 'a' }, { firstOffset: '0', producerId: 'b' }]), [5]);
});

test("a producer's records after its abort marker are delivered", () => {
  const again = [record(0, 'a'), marker(1, 'a', ABORT), record(2, 'a'), marker(3, 'a', COMMIT)];
  assert.deepEqual(kept(again, [{ firstOffset: '0', producerId: 'a' }]), [2]);
});

test('a data record keyed as an abort marker (a 4-byte key of zeros) is aborted with its transaction, and does not end it', () => {
  // a: 0, 1 (key 00 00 00 00, as an IntegerSerializer writes 0), 2, abort 3; c: 4, commit 5.
  const keyed = [record(0, 'a'), record(1, 'a', ABORT), record(2, 'a'), marker(3, 'a', ABORT), record(4, 'c'), marker(5, 'c', COMMIT)];
  assert.deepEqual(kept(keyed, [{ firstOffset: '0', producerId: 'a' }]), [4]);
});

test('the check every bounded read makes passes the patched filter and refuses the original, naming the fix', () => {
  assert.doesNotThrow(() => checkAbortedFilter(filterAbortedMessages));
  assert.doesNotThrow(() => checkAbortedFilter());
  // What kafkajs 2.2.4 does unpatched: one aborted transaction marked per record, in the order listed.
  const original = ({ messages, abortedTransactions }: { messages: Message[]; abortedTransactions: { firstOffset: string; producerId: string }[] }) => {
    const remaining = [...abortedTransactions];
    const current = new Set<string>();
    return messages.filter((m) => {
      if (remaining.length > 0 && BigInt(m.offset) >= BigInt(remaining[0]!.firstOffset)) current.add(remaining.shift()!.producerId);
      if (m.key?.equals(ABORT) === true) current.delete(m.batchContext.producerId);
      else if (current.has(m.batchContext.producerId)) return false;
      return true;
    });
  };
  assert.throws(() => checkAbortedFilter(original), (e: unknown) => e instanceof ConfigError && /patches\/kafkajs\+2\.2\.4\.patch.*npm ci/.test(e.message));
  assert.throws(() => checkAbortedFilter(({ messages }) => messages), ConfigError);
  // The first version of the patch: markers told by their key alone.
  const byKeyAlone = ({ messages, abortedTransactions }: { messages: Message[]; abortedTransactions: { firstOffset: string; producerId: string }[] }) =>
    filterAbortedMessages({ messages: messages.map((m) => ({ ...m, isControlRecord: m.key?.equals(ABORT) === true || m.isControlRecord })), abortedTransactions }).map((m) => messages.find((x) => x.offset === m.offset)!);
  assert.throws(() => checkAbortedFilter(byKeyAlone), ConfigError);
});

