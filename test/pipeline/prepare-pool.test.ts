// The drain's worker pool gives, message for message, what preparing on the main thread gives:
// the same events-table lines, canaries and error types, in batch order; a closed pool refuses work.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { KafkaBatch, KafkaMessage } from '../../src/kafka/source.js';
import type { PreparedMessage } from '../../src/events/staged-row.js';
import { PreparePool, workerFailure } from '../../src/pipeline/prepare-pool.js';
import { clone, realEvents } from '../events/helpers.js';

const LIMIT = 64 * 1024;

function batch(partition: number, values: Buffer[]): KafkaBatch {
  const messages: KafkaMessage[] = values.map((value, i) => ({ topic: 'eqiad.test', partition, offset: BigInt(100 + i), timestampMs: 1_767_225_600_000 + i, key: null, value, sizeBytes: value.byteLength }));
  return { topic: 'eqiad.test', partition, messages, nextOffset: BigInt(100 + values.length), sizeBytes: values.reduce((n, v) => n + v.byteLength, 0) };
}

/** Comparable form: lines as text, everything else as is. */
const plain = (ps: PreparedMessage[]) => ps.map((p) => (p.kind === 'event' ? { ...p, line: Buffer.from(p.line).toString('utf8') } : p));

test('worker threads prepare every kind of message exactly as the main thread does', async () => {
  const events = realEvents();
  const canary = clone(events[0]!) as { meta: { domain: string } };
  canary.meta.domain = 'canary';
  const odd = [
    Buffer.from(JSON.stringify(canary)),
    Buffer.from('{"not json'),
    Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
    Buffer.alloc(0),
    Buffer.from(JSON.stringify({ ...events[1]!, padding: 'x'.repeat(LIMIT) })),
  ];
  const batches = [batch(0, events.map((e) => Buffer.from(JSON.stringify(e)))), batch(1, odd), batch(2, events.slice(3, 6).map((e) => Buffer.from(JSON.stringify(e))))];
  const inline = new PreparePool(0, LIMIT);
  const pool = new PreparePool(2, LIMIT);
  try {
    const expected = await Promise.all(batches.map((b) => inline.prepare(b)));
    const kinds = expected.flat().map((p) => (p.kind === 'invalid' ? p.errorType : p.kind));
    assert.ok(kinds.includes('event') && kinds.includes('canary') && kinds.includes('oversize') && kinds.includes('invalid_json'), kinds.join(' '));
    // All in flight at once, over two workers: answers still come back per batch, in order.
    const got = await Promise.all(batches.map((b) => pool.prepare(b)));
    assert.deepEqual(got.map(plain), expected.map(plain));
  } finally {
    await pool.close();
    await inline.close();
  }
  await assert.rejects(pool.prepare(batches[0]!), /drain worker pool is closed/);
});

test('a worker thread that fails names the batch it was preparing, and the pool refuses further work', async () => {
  // An event kind the worker does not know makes it throw outside its own error handling.
  const pool = new PreparePool(1, LIMIT, 'no_such_kind' as never);
  try {
    const values = realEvents().slice(0, 3).map((e) => Buffer.from(JSON.stringify(e)));
    await assert.rejects(pool.prepare(batch(4, values)), (error: Error & { code?: string }) => {
      assert.match(error.message, /^a drain worker thread failed: .* while preparing eqiad\.test\[4\] offsets 100–102$/);
      assert.equal(error.code, 'INTERNAL');
      return true;
    });
    await assert.rejects(pool.prepare(batch(5, values)), (error: Error) => /^a drain worker thread failed: /.test(error.message));
  } finally {
    await pool.close();
  }
});

test('a worker thread past its heap limit fails as out of resources (71), not as a bug', () => {
  // What Node reports when a worker reaches its heap limit (its 'error' event).
  const cause = Object.assign(new Error('Worker terminated due to reaching memory limit: JS heap out of memory'), { code: 'ERR_WORKER_OUT_OF_MEMORY' });
  const error = workerFailure(`a drain worker thread failed: ${cause.message}`, cause, 'eqiad.test[6] offsets 100–180');
  assert.equal(error.code, 'RESOURCES');
  assert.equal(error.exitCode, 71);
  assert.equal(error.message, 'a drain worker thread failed: Worker terminated due to reaching memory limit: JS heap out of memory while preparing eqiad.test[6] offsets 100–180: raise the heap limit, which worker threads share with the main thread (NODE_OPTIONS=--max-old-space-size=<MiB>)');
  const crash = workerFailure('a drain worker thread failed: boom', new TypeError('boom'));
  assert.deepEqual([crash.code, crash.exitCode, crash.message], ['INTERNAL', 70, 'a drain worker thread failed: boom']);
});

test('a thread that cannot start fails the pool and stops the threads already started', { timeout: 20_000 }, async () => {
  let started: Worker | undefined;
  const limit = Object.assign(new Error('ERR_WORKER_INIT_FAILED: pids limit'), { code: 'ERR_WORKER_INIT_FAILED' });
  const create = (): Worker => {
    if (started !== undefined) throw limit;
    // Idle until terminated: left running, it would keep the process alive.
    started = new Worker('setInterval(() => {}, 1000)', { eval: true });
    // So that, should the pool leave it running, this test fails at its timeout instead of hanging.
    started.unref();
    return started;
  };
  assert.throws(() => new PreparePool(3, LIMIT, 'page_change', create), (e: unknown) => e === limit);
  assert.ok(started !== undefined);
  await once(started, 'exit');
});
