// The bounded hand-off between the dump pass and each output's writer: order, the weight bound
// that holds the producer back, and how a failure or an early stop reaches the other side.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReaderGoneError, RowChannel } from '../../src/dumps/row-channel.js';

const byLength = (item: string): number => item.length;

test('items come out in order and the iteration ends after close', async () => {
  const channel = new RowChannel<string>('test', 100, byLength);
  const producing = (async () => {
    for (let i = 0; i < 5000; i++) await channel.push(`item-${i}`);
    channel.close();
  })();
  const seen: string[] = [];
  for await (const item of channel) seen.push(item);
  await producing;
  assert.deepEqual(seen, Array.from({ length: 5000 }, (_, i) => `item-${i}`));
});

test('push waits while more than the bound is queued and resumes when the consumer takes items', async () => {
  const channel = new RowChannel<string>('test', 10, byLength);
  await channel.push('x'.repeat(8));
  await channel.push('y'.repeat(8)); // 16 queued: over the bound, but this push was allowed in
  let third = false;
  const pending = channel.push('z').then(() => (third = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(third, false, 'the third push waits while 16 > 10 are queued');
  const iterator = channel[Symbol.asyncIterator]();
  assert.equal((await iterator.next()).value, 'x'.repeat(8));
  await pending;
  assert.equal(third, true, 'taking one item (8 queued) lets the producer go on');
  channel.close();
  assert.equal((await iterator.next()).value, 'y'.repeat(8));
  assert.equal((await iterator.next()).value, 'z');
  assert.equal((await iterator.next()).done, true);
});

test('fail ends the iteration with the error, even with items still queued', async () => {
  const channel = new RowChannel<string>('test', 100, byLength);
  await channel.push('a');
  channel.fail(new Error('the source broke'));
  await assert.rejects(async () => {
    for await (const _item of channel) assert.fail('no item after a failure');
  }, /the source broke/);
});

test('a consumer that stops early makes later pushes reject with ReaderGoneError', async () => {
  const channel = new RowChannel<string>('pages-meta-history', 1, byLength);
  await channel.push('aa');
  for await (const _item of channel) break;
  await assert.rejects(channel.push('bb'), (error: Error) => error instanceof ReaderGoneError && /pages-meta-history writer stopped reading/.test(error.message));
});

test('a failure releases a producer waiting on a consumer that never started reading', async () => {
  const channel = new RowChannel<string>('pages-articles', 1, byLength);
  await channel.push('aa');
  const waiting = channel.push('bb');
  channel.fail(new Error('the writer could not open its file'));
  await assert.rejects(waiting, (error: Error) => error instanceof ReaderGoneError && /pages-articles writer was stopped by an earlier failure/.test(error.message));
});
