// toJobError: what a Kafka failure says at the command line. kafkajs wraps retried errors, and
// the wrapper's message repeats its cause's. And which kafkajs log entries an operator sees.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { pino } from 'pino';
import { logKafkajsEntry, toJobError } from '../../src/kafka/client.js';

test('an unreachable broker is UNAVAILABLE, names the brokers, and says the cause once', () => {
  const cause = new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9999');
  const wrapped = new kafkajs.KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 5, retryTime: 8000 });
  const error = toJobError(wrapped, 'connecting the Kafka admin client', ['127.0.0.1:9999']);
  assert.equal(error.code, 'UNAVAILABLE');
  assert.equal(
    error.message,
    'connecting the Kafka admin client failed: cannot reach Kafka (brokers 127.0.0.1:9999): Connection error: connect ECONNREFUSED 127.0.0.1:9999',
  );
});

test('causes with their own messages are all kept, outermost first', () => {
  const cause = new kafkajs.KafkaJSConnectionError('connect ETIMEDOUT 10.0.0.1:9092');
  // kafkajs takes { cause } as a second argument; its typings leave it out.
  const NonRetriable = kafkajs.KafkaJSNonRetriableError as unknown as new (message: string, o: { cause: Error }) => Error;
  const outer = new NonRetriable('metadata request failed', { cause });
  const error = toJobError(outer, 'reading topic metadata', ['10.0.0.1:9092']);
  assert.equal(error.code, 'UNAVAILABLE');
  assert.match(error.message, /\(brokers 10\.0\.0\.1:9092\): metadata request failed: connect ETIMEDOUT 10\.0\.0\.1:9092$/);
});

test('a broker that never answers is UNAVAILABLE; a codec kafkajs lacks is DATA, not retried', () => {
  const silent = toJobError(new Error('Broker not connected'), 'fetching the offsets of t', ['127.0.0.1:19694']);
  assert.equal(silent.code, 'UNAVAILABLE');
  assert.match(silent.message, /cannot reach Kafka \(brokers 127\.0\.0\.1:19694\): Broker not connected/);
  const NotImplemented = (kafkajs as unknown as { KafkaJSNotImplemented: new (message: string) => Error }).KafkaJSNotImplemented;
  const codec = toJobError(new NotImplemented('ZSTD compression not implemented'), 'reading t', ['k:9092']);
  assert.equal(codec.code, 'DATA');
  assert.equal(codec.retryable, false);
  // Other plain errors are still bugs.
  assert.equal(toJobError(new TypeError('x is undefined'), 'reading t', ['k:9092']).code, 'INTERNAL');
});

test('SASL settings the broker does not accept are configuration errors (78) naming kafka.sasl, not retried as unavailable', () => {
  const { KafkaJSProtocolError } = kafkajs as unknown as { KafkaJSProtocolError: new (e: { message: string; type: string; code: number; retriable: boolean }) => Error };
  const state = toJobError(new KafkaJSProtocolError({ message: 'Request is not valid given the current SASL state', type: 'ILLEGAL_SASL_STATE', code: 34, retriable: false }), 'connecting the Kafka admin client', ['k:9092']);
  assert.equal(state.code, 'CONFIG');
  assert.equal(state.retryable, false);
  assert.match(state.message, /brokers k:9092 has no SASL on this listener, yet kafka\.sasl in the job file turns SASL on/);
  const mechanism = toJobError(new KafkaJSProtocolError({ message: 'The broker does not support the requested SASL mechanism', type: 'UNSUPPORTED_SASL_MECHANISM', code: 33, retriable: false }), 'connecting the Kafka admin client', ['k:9092']);
  assert.equal(mechanism.code, 'CONFIG');
  assert.match(mechanism.message, /does not enable the SASL mechanism kafka\.sasl\.mechanism names/);
});

test('a TLS handshake the broker drops stays UNAVAILABLE (a proxy with no broker behind it does that too) but names kafka.tls', () => {
  const cause = new kafkajs.KafkaJSConnectionError('Connection error: Client network socket disconnected before secure TLS connection was established');
  const error = toJobError(new kafkajs.KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 5, retryTime: 8000 }), 'connecting the Kafka admin client', ['k:9092']);
  assert.equal(error.code, 'UNAVAILABLE');
  assert.match(error.message, /cannot reach Kafka \(brokers k:9092\) \(if that listener has no TLS, set kafka\.tls: false in the job file\): Connection error: Client network socket/);
});

test('kafkajs log entries: a retried response error is debug, a connection error warn, group chatter debug', () => {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  const entry = (level: number, namespace: string, message: string, extra: Record<string, unknown> = {}) => ({ namespace, level, label: '', log: { timestamp: '', logger: 'kafkajs', message, ...extra } });
  const { ERROR, INFO } = kafkajs.logLevel;
  // What kafkajs logs while a topic it produces to is still being created; it retries the request.
  logKafkajsEntry(logger, entry(ERROR, 'Connection', 'Response Metadata(key: 3, version: 6)', { broker: '127.0.0.1:9092', error: 'This server does not host this topic-partition', correlationId: 1 }));
  logKafkajsEntry(logger, entry(ERROR, 'Connection', 'Connection error: connect ECONNREFUSED 127.0.0.1:9999', { broker: '127.0.0.1:9999' }));
  logKafkajsEntry(logger, entry(INFO, 'ConsumerGroup', 'Consumer has joined the group'));
  assert.deepEqual(lines.map((l) => [l.level, l.msg]), [
    [20, 'Response Metadata(key: 3, version: 6)'],
    [40, 'Connection error: connect ECONNREFUSED 127.0.0.1:9999'],
    [20, 'Consumer has joined the group'],
  ]);
});
