// retryWhile with isLeadershipChange, as offset reads use it: they ride out partition leadership
// moving (NOT_LEADER, seen on a partition right after its topic was created) and give up on
// anything else or at the deadline.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { retryWhile } from '../../src/kafka/admin.js';
import { isLeadershipChange } from '../../src/kafka/client.js';

/** The error kafkajs throws for a protocol error code (its typings say the constructor takes an Error; it reads these fields). */
const protocolError = (type: string, code: number, message: string) =>
  new kafkajs.KafkaJSProtocolError({ message, type, code, retriable: true } as unknown as Error);
const notLeader = () => protocolError('NOT_LEADER_FOR_PARTITION', 6, 'This server is not the leader for that topic-partition');

/** A run that fails with the given errors in turn, then returns 'done'; counts calls. */
function failingWith(errors: readonly Error[]) {
  const state = { calls: 0, refreshes: 0 };
  const run = async () => {
    const error = errors[state.calls++];
    if (error !== undefined) throw error;
    return 'done';
  };
  const beforeRetry = async () => {
    state.refreshes += 1;
  };
  return { state, run, beforeRetry };
}

test('retries while leadership moves, refreshing before each try, and returns the result', async () => {
  const errors = [notLeader(), notLeader(), protocolError('LEADER_NOT_AVAILABLE', 5, 'There is no leader for this topic-partition')];
  const { state, run, beforeRetry } = failingWith(errors);
  assert.equal(await retryWhile(run, { retryable: isLeadershipChange, timeoutMs: 10_000, beforeRetry }), 'done');
  assert.deepEqual(state, { calls: 4, refreshes: 3 });
});

test('a new leader not caught up yet (OFFSET_NOT_AVAILABLE) and leader epoch errors are retried too', async () => {
  const errors = [
    protocolError('OFFSET_NOT_AVAILABLE', 78, 'The leader high watermark has not caught up'),
    protocolError('FENCED_LEADER_EPOCH', 74, 'The leader epoch in the request is older than the epoch on the broker'),
    protocolError('UNKNOWN_LEADER_EPOCH', 75, 'The leader epoch in the request is newer than the epoch on the broker'),
  ];
  const { state, run, beforeRetry } = failingWith(errors);
  assert.equal(await retryWhile(run, { retryable: isLeadershipChange, timeoutMs: 10_000, beforeRetry }), 'done');
  assert.deepEqual(state, { calls: 4, refreshes: 3 });
});

test('a leadership error wrapped by kafkajs retries is still retried', async () => {
  const wrapped = Object.assign(new Error('retries exceeded'), { name: 'KafkaJSNumberOfRetriesExceeded', cause: notLeader() });
  const { state, run, beforeRetry } = failingWith([wrapped]);
  assert.equal(await retryWhile(run, { retryable: isLeadershipChange, timeoutMs: 10_000, beforeRetry }), 'done');
  assert.equal(state.calls, 2);
});

test('any other error is thrown at once', async () => {
  const unknownTopic = protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3, 'This server does not host this topic-partition');
  const { state, run, beforeRetry } = failingWith([unknownTopic]);
  await assert.rejects(retryWhile(run, { retryable: isLeadershipChange, timeoutMs: 10_000, beforeRetry }), (error) => error === unknownTopic);
  assert.deepEqual(state, { calls: 1, refreshes: 0 });
});

test('gives up with the last leadership error at the deadline', async () => {
  const errors = Array.from({ length: 100 }, notLeader);
  const { state, run, beforeRetry } = failingWith(errors);
  await assert.rejects(retryWhile(run, { retryable: isLeadershipChange, timeoutMs: 200, beforeRetry }), (error) => error === errors[state.calls - 1]);
  // Pauses of 50 and 100 ms fit in 200 ms; the next (200 ms) does not.
  assert.ok(state.calls >= 2 && state.calls <= 3, `${state.calls} calls`);
});
