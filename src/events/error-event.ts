// Error events (schema error 2.1.0) for the drain's error stream `<job_name>.error`, and the
// reversible text encoding of a message's original bytes in `raw_event`.
// Imports core and events only; no I/O. The caller supplies `dt` (and may supply `meta.id`).
//
// raw_event: when the bytes are valid UTF-8, raw_event is exactly that text. Otherwise it is the
// "surrogateescape" decoding (Python's PEP 383): every byte that is not part of a well-formed
// UTF-8 sequence becomes the lone surrogate U+DC00+byte (U+DC80…U+DCFF; bytes < 0x80 are always
// well-formed). Valid UTF-8 never decodes to a lone surrogate, so the two cases cannot collide
// and decodeRawEvent() restores the exact bytes. JSON.stringify writes lone surrogates as
// `\udcXX` escapes, so the error event itself stays valid UTF-8 JSON.

import { createHash, randomUUID } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { JobError } from '../core/errors.js';
import { errorStreamName } from './error-stream.js';
import { utf8SequenceLength, ERROR_SCHEMA_ID } from './validate.js';


/** error 2.1.0 as on the wire. */
export interface ErrorEvent {
  $schema: string;
  dt: string;
  emitter_id: string;
  error_type?: string;
  errored_schema_uri?: string;
  errored_stream_name?: string;
  message: string;
  meta: { stream: string; dt?: string; id?: string; domain?: string; request_id?: string; uri?: string };
  raw_event?: string;
  stack?: string;
  triggered_by?: string;
}

export interface ErrorEventInput {
  /** The job's name; the event goes to `<jobName>.error`. */
  readonly jobName: string;
  /** Who failed, e.g. `mwlake-drain@host`. */
  readonly emitterId: string;
  /** What kind of failure, e.g. a ValidationErrorType or an exception class name. */
  readonly errorType: string;
  readonly message: string;
  /** The message value exactly as read from Kafka. */
  readonly rawBytes: Uint8Array;
  /** The stream the message was read from (topic without datacenter prefix); used unless the raw event names its own meta.stream. */
  readonly streamName: string;
  /** When the error happened, ISO-8601 UTC; also meta.dt. */
  readonly dt: string;
  /** meta.id; a random UUIDv4 when absent. */
  readonly id?: string;
  /** The raw message parsed already, if it parsed, to read `$schema` and `meta.stream` without parsing again. */
  readonly parsed?: unknown;
  readonly stack?: string;
  /** `<topic>:<uri>` list, per the schema. */
  readonly triggeredBy?: string;
}

/** The UUID namespace of mwlake's error event ids (a random v4, fixed once). */
const ERROR_ID_NAMESPACE = Buffer.from('5f0c3f4e9b8a4d2e8c61a0d7b3e2f914', 'hex');

/**
 * A name-based UUID (version 5, RFC 9562) of the job and a reference naming the message (the
 * drain gives its coordinates and record identity): a rerun after a failed commit produces its
 * error events again with the same ids, so consumers of the at-least-once error stream can drop
 * the repeats.
 */
export function errorEventId(jobName: string, messageRef: string): string {
  const hash = createHash('sha1').update(ERROR_ID_NAMESPACE).update(`${jobName}\n${messageRef}`, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Builds an error 2.1.0 event. errored_stream_name and errored_schema_uri come from the raw event when it has them. */
export function buildErrorEvent(input: ErrorEventInput): ErrorEvent {
  const raw = input.parsed !== undefined ? input.parsed : tryParse(input.rawBytes);
  const rawObject = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
  const rawSchema = rawObject?.['$schema'];
  const rawMeta = rawObject?.['meta'];
  const rawStream =
    rawMeta !== null && typeof rawMeta === 'object' ? (rawMeta as Record<string, unknown>)['stream'] : undefined;
  const event: ErrorEvent = {
    $schema: ERROR_SCHEMA_ID,
    dt: input.dt,
    emitter_id: input.emitterId,
    error_type: input.errorType,
    message: input.message,
    errored_stream_name: typeof rawStream === 'string' && rawStream !== '' ? rawStream : input.streamName,
    raw_event: encodeRawEvent(input.rawBytes),
    meta: { stream: errorStreamName(input.jobName), dt: input.dt, id: input.id ?? randomUUID() },
  };
  if (typeof rawSchema === 'string') event.errored_schema_uri = rawSchema;
  if (input.stack !== undefined) event.stack = input.stack;
  if (input.triggeredBy !== undefined) event.triggered_by = input.triggeredBy;
  return event;
}

function tryParse(bytes: Uint8Array): unknown {
  if (bytes.byteLength === 0 || !isUtf8(bytes)) return undefined;
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The original bytes as a string: the exact text if valid UTF-8, else surrogate-escaped (module comment). */
export function encodeRawEvent(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buffer)) return buffer.toString('utf8');
  const parts: string[] = [];
  let runStart = 0;
  let i = 0;
  while (i < buffer.length) {
    const length = utf8SequenceLength(buffer, i);
    if (length > 0) {
      i += length;
      continue;
    }
    if (runStart < i) parts.push(buffer.toString('utf8', runStart, i));
    parts.push(String.fromCharCode(0xdc00 + buffer[i]!));
    i += 1;
    runStart = i;
  }
  if (runStart < buffer.length) parts.push(buffer.toString('utf8', runStart));
  return parts.join('');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Inverse of encodeRawEvent: the exact original bytes. Throws on a string encodeRawEvent cannot produce. */
export function decodeRawEvent(rawEvent: string): Uint8Array {
  if (!LONE_SURROGATE.test(rawEvent)) return Buffer.from(rawEvent, 'utf8');
  const chunks: Buffer[] = [];
  let runStart = 0;
  for (let i = 0; i < rawEvent.length; i++) {
    const unit = rawEvent.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = rawEvent.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i += 1;
        continue;
      }
      throw new JobError('DATA', `raw_event has a lone high surrogate U+${hex(unit)} at index ${i}; expected text from encodeRawEvent`);
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) {
      if (unit < 0xdc80 || unit > 0xdcff) {
        throw new JobError('DATA', `raw_event has a lone surrogate U+${hex(unit)} at index ${i}; expected U+DC80…U+DCFF (an escaped byte) or text`);
      }
      if (runStart < i) chunks.push(Buffer.from(rawEvent.slice(runStart, i), 'utf8'));
      chunks.push(Buffer.of(unit - 0xdc00));
      runStart = i + 1;
    }
  }
  if (runStart < rawEvent.length) chunks.push(Buffer.from(rawEvent.slice(runStart), 'utf8'));
  return Buffer.concat(chunks);
}

function hex(unit: number): string {
  return unit.toString(16).toUpperCase();
}
