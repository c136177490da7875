// Connection options for every Kafka client mwlake creates, the one place kafkajs is configured
// (codecs, logging into pino, timeouts, SASL and TLS), and the mapping of kafkajs errors to
// JobError. Imports core and kafkajs only; knows nothing of events or tables.

import type { ConnectionOptions } from 'node:tls';
import kafkajs from 'kafkajs';
import type { KafkaConfig, LogEntry, SASLOptions, logLevel as KafkajsLogLevel } from 'kafkajs';
import { ConfigError, JobError, type ErrorCode } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import { lz4Codec, snappyCodec, zstdCodec } from './codecs.js';

const { Kafka, CompressionCodecs, CompressionTypes, logLevel } = kafkajs;

// kafkajs ships gzip only: the others are registered once, when this module is first imported,
// for every client (codecs.ts).
CompressionCodecs[CompressionTypes.Snappy] = snappyCodec;
CompressionCodecs[CompressionTypes.ZSTD] = zstdCodec;
CompressionCodecs[CompressionTypes.LZ4] = lz4Codec;

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaClientOptions {
  /** `host:port` of one or more brokers (the bootstrap list). */
  readonly brokers: readonly string[];
  readonly clientId?: string;
  /** `true` for TLS with the system CAs, or Node TLS options (ca, cert, key, servername, ...). */
  readonly tls?: boolean | ConnectionOptions;
  readonly sasl?: { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string };
  /** TCP connect (and TLS handshake) timeout per broker; default 3000. */
  readonly connectionTimeoutMs?: number;
  /** Timeout of one request; default 30000. Large fetches of 10 MiB events must fit in it. */
  readonly requestTimeoutMs?: number;
  /** Retries of a failed request or connection before the call fails; default 5 (about 10 s). */
  readonly retries?: number;
  readonly logger?: Logger;
}

export const DEFAULT_CLIENT_ID = 'mwlake';

/** Builds the kafkajs client. Only modules of src/kafka call this. */
export function createKafkajsClient(options: KafkaClientOptions): InstanceType<typeof Kafka> {
  if (options.brokers.length === 0 || options.brokers.some((broker) => !/^[^\s:]+:\d+$/.test(broker))) {
    throw new ConfigError(`Kafka brokers must be a non-empty list of host:port, found ${JSON.stringify(options.brokers)}`);
  }
  const logger = options.logger ?? silentLogger();
  const config: KafkaConfig = {
    brokers: [...options.brokers],
    clientId: options.clientId ?? DEFAULT_CLIENT_ID,
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    retry: { retries: options.retries ?? 5, initialRetryTime: 300, maxRetryTime: 10_000 },
    logLevel: kafkajsLevelFor(logger),
    logCreator: () => (entry) => logKafkajsEntry(logger, entry),
  };
  if (options.tls !== undefined && options.tls !== false) config.ssl = options.tls;
  if (options.sasl !== undefined) {
    const { mechanism, username, password } = options.sasl;
    config.sasl = { mechanism, username, password } as SASLOptions;
  }
  return new Kafka(config);
}

/** kafkajs builds every log entry it is allowed to; only let through what pino would print. */
function kafkajsLevelFor(logger: Logger): KafkajsLogLevel {
  if (logger.isLevelEnabled('trace')) return logLevel.DEBUG;
  if (logger.isLevelEnabled('debug')) return logLevel.INFO;
  if (logger.isLevelEnabled('warn')) return logLevel.WARN;
  return logLevel.NOTHING;
}

// kafkajs logs an ERROR for every retried connection and for crashes we report as JobErrors
// anyway, so its ERROR becomes warn; its chatty INFO (group joins) becomes debug.
// Its stack traces (one per retried connection) are kept for debug logs only: a broker that is
// down must read as a few lines, then the JobError naming it.
// An error code in one response ("does not host this topic-partition" while a topic is being
// created, a leader election) is debug too: kafkajs retries the request, and the call fails with
// a JobError if the retries run out. At warn it woke operators for runs that went fine.
export function logKafkajsEntry(logger: Logger, entry: LogEntry): void {
  const { message, timestamp: _timestamp, logger: _name, stack, ...extra } = entry.log as { message: string; stack?: unknown; [key: string]: unknown };
  const fields = { kafkajs: entry.namespace, ...extra, ...(stack !== undefined && logger.isLevelEnabled('debug') ? { stack } : {}) };
  const responseError = entry.namespace === 'Connection' && message.startsWith('Response ') && extra['error'] !== undefined;
  switch (entry.level) {
    case logLevel.ERROR:
    case logLevel.WARN:
      if (responseError) logger.debug(fields, message);
      else logger.warn(fields, message);
      break;
    case logLevel.INFO:
      logger.debug(fields, message);
      break;
    default:
      logger.trace(fields, message);
  }
}

interface KafkajsErrorLike {
  readonly name?: string;
  readonly message?: string;
  readonly type?: string;
  readonly retriable?: boolean;
  readonly cause?: unknown;
}

const CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
]);

/** The chain of causes, outermost first (kafkajs wraps retried errors in NumberOfRetriesExceeded). */
function causes(error: unknown): KafkajsErrorLike[] {
  const chain: KafkajsErrorLike[] = [];
  let current: unknown = error;
  while (current !== null && typeof current === 'object' && chain.length < 10) {
    chain.push(current as KafkajsErrorLike);
    current = (current as KafkajsErrorLike).cause;
  }
  return chain;
}

/** Errors of leadership moving; OFFSET_NOT_AVAILABLE is a new leader not caught up yet (KIP-207). */
const LEADERSHIP_CHANGES = new Set(['NOT_LEADER_FOR_PARTITION', 'LEADER_NOT_AVAILABLE', 'OFFSET_NOT_AVAILABLE', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH']);

/**
 * Partition leadership is moving (a new topic's partitions settling, a broker restarting): worth
 * asking again with fresh metadata. kafkajs retries these in its consumer and producer, but its
 * admin offset reads give up at once.
 */
export function isLeadershipChange(error: unknown): boolean {
  return causes(error).some((e) => e.type !== undefined && LEADERSHIP_CHANGES.has(e.type));
}

/**
 * Turns anything kafkajs throws into a JobError whose message names the operation and the
 * brokers: connection problems are UNAVAILABLE (exit 69, retryable), a missing topic NOT_FOUND,
 * an over-limit message DATA. JobErrors pass through unchanged.
 */
export function toJobError(error: unknown, operation: string, brokers: readonly string[]): JobError {
  if (error instanceof JobError) return error;
  const chain = causes(error);
  const innermost = chain[chain.length - 1];
  // kafkajs repeats a cause's message in its wrapper's (NumberOfRetriesExceeded): say each once.
  const detail = chain.reduce<string[]>((said, e) => (e.message && !said.some((m) => m.includes(e.message!)) ? [...said, e.message] : said), []).join(': ') || String(error);
  const where = `brokers ${brokers.join(',')}`;
  const context = { brokers: [...brokers], operation, kafkaError: innermost?.type ?? innermost?.name };
  const fail = (code: ErrorCode, message: string, retryable?: boolean) =>
    new JobError(code, message, { cause: error, context, ...(retryable === undefined ? {} : { retryable }) });

  if (chain.some((e) => e.name === 'KafkaJSSASLAuthenticationError')) {
    return fail('CONFIG', `${operation} failed: SASL authentication rejected by ${where} (check kafka.sasl in the job file and MWLAKE_KAFKA_SASL_*): ${detail}`);
  }
  // The client's security settings do not match the listener: no retry helps, a person must fix
  // the job file (kafkajs raises these from the SASL handshake, not as connection errors).
  if (chain.some((e) => e.type === 'ILLEGAL_SASL_STATE')) {
    return fail('CONFIG', `${operation} failed: ${where} has no SASL on this listener, yet kafka.sasl in the job file turns SASL on: remove kafka.sasl, or point kafka.brokers at the SASL listener: ${detail}`);
  }
  if (chain.some((e) => e.type === 'UNSUPPORTED_SASL_MECHANISM')) {
    return fail('CONFIG', `${operation} failed: ${where} does not enable the SASL mechanism kafka.sasl.mechanism names: ${detail}`);
  }
  if (chain.some((e) => e.name !== undefined && CONNECTION_ERRORS.has(e.name))) {
    // A listener without TLS drops a TLS handshake, but so does a proxy with no broker behind it:
    // still 69, with the likelier configuration cause named.
    const tlsHint = /before secure TLS connection was established/.test(detail) ? ' (if that listener has no TLS, set kafka.tls: false in the job file)' : '';
    return fail('UNAVAILABLE', `${operation} failed: cannot reach Kafka (${where})${tlsHint}: ${detail}`);
  }
  const type = chain.find((e) => e.type !== undefined)?.type;
  switch (type) {
    case 'UNKNOWN_TOPIC_OR_PARTITION':
      return fail('NOT_FOUND', `${operation} failed: topic or partition does not exist on ${where}: ${detail}`);
    case 'TOPIC_ALREADY_EXISTS':
      return fail('ALREADY_EXISTS', `${operation} failed: topic already exists on ${where}: ${detail}`);
    case 'MESSAGE_TOO_LARGE':
    case 'RECORD_LIST_TOO_LARGE':
      return fail('DATA', `${operation} failed: message larger than the broker accepts (${where}): ${detail}`);
    case 'TOPIC_AUTHORIZATION_FAILED':
    case 'GROUP_AUTHORIZATION_FAILED':
    case 'CLUSTER_AUTHORIZATION_FAILED':
    case 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED':
      return fail('CONFIG', `${operation} failed: not authorized on ${where}: ${detail}`);
    default:
      break;
  }
  // A codec kafkajs lacks: no retry reads those batches, a person must change the topic or mwlake.
  if (chain.some((e) => e.name === 'KafkaJSNotImplemented')) {
    return fail('DATA', `${operation} failed on ${where}: ${detail}`, false);
  }
  // kafkajs throws a plain Error when a broker accepts the connection but never answers.
  if (chain.some((e) => e.name === 'Error' && /not connected|connection (closed|refused|timeout)/i.test(e.message ?? ''))) {
    return fail('UNAVAILABLE', `${operation} failed: cannot reach Kafka (${where}): ${detail}`);
  }
  if (chain.some((e) => typeof e.name === 'string' && e.name.startsWith('KafkaJS'))) {
    const retryable = chain.some((e) => e.retriable === true || e.name === 'KafkaJSNumberOfRetriesExceeded');
    return fail('UNAVAILABLE', `${operation} failed on ${where}: ${detail}`, retryable);
  }
  // Anything else (TypeError, RangeError, ...) is a bug in mwlake, never retried.
  return fail('INTERNAL', `${operation} failed: ${detail}`, false);
}
