// What the drain keeps of one consumed message, decided from its bytes and Kafka coordinates alone:
// an error (with its error type), a canary to filter, or an event with its events-table row as one
// JSON line and the partition (wiki, day) it goes to. Pure, so it runs on the main thread or in the
// drain's worker threads alike. Page changes and legacy visibility changes differ only in schema,
// table and wiki field (EVENT_KINDS).

import type { PartitionSpec } from '../iceberg/spec/partition.js';
import type { Schema } from '../iceberg/spec/types.js';
import { EVENTS_SCHEMA, EVENTS_SPEC, eventRow, mayHoldLoneSurrogates, rowDay, UnstorableValueError, type KafkaCoordinates } from './events-table.js';
import { isCanaryEvent, lacksContentBody, type PageChangeEvent } from './page-change.js';
import { validateMessage, PAGE_CHANGE_FAMILY, VISIBILITY_CHANGE_FAMILY, type SchemaFamily } from './validate.js';
import { VISIBILITY_EVENTS_SCHEMA, VISIBILITY_EVENTS_SPEC } from './visibility-change.js';

const MAX_SEGMENT_BYTES = 255;

/** The streams the drain reads, each into its own events table. */
export type EventKind = 'page_change' | 'revision_visibility_change';

interface KindInfo {
  readonly family: SchemaFamily;
  readonly schema: Schema;
  readonly spec: PartitionSpec;
  readonly wikiField: string;
}

export const EVENT_KINDS: Readonly<Record<EventKind, KindInfo>> = {
  page_change: { family: PAGE_CHANGE_FAMILY, schema: EVENTS_SCHEMA, spec: EVENTS_SPEC, wikiField: 'wiki_id' },
  revision_visibility_change: { family: VISIBILITY_CHANGE_FAMILY, schema: VISIBILITY_EVENTS_SCHEMA, spec: VISIBILITY_EVENTS_SPEC, wikiField: 'database' },
};

export type Prepared<Line> =
  | {
      readonly kind: 'event';
      /** meta.id, for deduplication within the run. */
      readonly id: string | undefined;
      readonly wikiId: string;
      /** Days since the epoch of meta.dt; null when it has none. */
      readonly day: number | null;
      /** The events-table row as JSON, newline-terminated. */
      readonly line: Line;
      /** A page change with visible content but no content_body (page-change.ts, lacksContentBody). */
      readonly withoutContent: boolean;
    }
  | { readonly kind: 'canary' }
  | { readonly kind: 'invalid'; readonly errorType: string; readonly message: string };

/** With the line as UTF-8 bytes, ready for the staging file. */
export type PreparedMessage = Prepared<Uint8Array>;

export function prepareMessage(value: Uint8Array, kafka: KafkaCoordinates, maxMessageBytes: number, kind: EventKind = 'page_change'): PreparedMessage {
  const p = prepareText(value, kafka, maxMessageBytes, kind);
  return p.kind === 'event' ? { ...p, line: Buffer.from(p.line, 'utf8') } : p;
}

/**
 * An event's events-table row as one newline-terminated JSON line, and its day partition; throws
 * UnstorableValueError when a value cannot be stored.
 */
export function stagedRow(event: object, kafka: KafkaCoordinates, checkSurrogates = true, schema: Schema = EVENTS_SCHEMA): { readonly line: string; readonly day: number | null } {
  const row = eventRow(event, kafka, checkSurrogates, schema);
  return { line: JSON.stringify(row) + '\n', day: rowDay(row) };
}

/** With the line as a string, for callers that encode many lines into one buffer. */
export function prepareText(value: Uint8Array, kafka: KafkaCoordinates, maxMessageBytes: number, kind: EventKind = 'page_change'): Prepared<string> {
  const info = EVENT_KINDS[kind];
  if (value.byteLength > maxMessageBytes) {
    return { kind: 'invalid', errorType: 'oversize', message: `message is ${value.byteLength} bytes; the limit is ${maxMessageBytes}` };
  }
  const v = validateMessage<Record<string, unknown> & { meta?: { id?: string; domain?: string } }>(value, info.family);
  if (!v.ok) return { kind: 'invalid', errorType: v.errorType, message: v.message };
  if (isCanaryEvent(v.event)) return { kind: 'canary' };
  let staged: { line: string; day: number | null };
  try {
    staged = stagedRow(v.event, kafka, v.text === undefined || mayHoldLoneSurrogates(v.text), info.schema);
  } catch (error) {
    if (error instanceof UnstorableValueError) return { kind: 'invalid', errorType: 'unstorable_value', message: `the event passed its schema, but the events table cannot store it: ${error.message}` };
    throw error;
  }
  const wikiId = v.event[info.wikiField] as string;
  // The wiki names a partition directory: past NAME_MAX (255 bytes) creating it fails the drain on every run.
  const segment = `${info.wikiField}=${encodeURIComponent(wikiId)}`;
  if (segment.length > MAX_SEGMENT_BYTES) {
    return { kind: 'invalid', errorType: 'unstorable_value', message: `the event passed its schema, but the events table cannot store it: at /${info.wikiField}: a partition directory name "${info.wikiField}=<URL-encoded value>" of ${segment.length} bytes is too long (at most ${MAX_SEGMENT_BYTES})` };
  }
  const withoutContent = kind === 'page_change' && lacksContentBody(v.event as unknown as PageChangeEvent);
  return { kind: 'event', id: v.event.meta?.id, wikiId, day: staged.day, line: staged.line, withoutContent };
}
