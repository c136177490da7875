// The events table: one row per valid page change event, the event's own shape (structs, the
// content_slots map) as decision log #005 asks, plus Kafka coordinates, the `$schema` URI, and
// every property the schema does not know as JSON, so nothing a newer producer sends is lost.
// Field ids come from the definition order below: append new fields at the end of a struct.

import type { PartitionSpec } from '../iceberg/spec/partition.js';
import type { IcebergType, NestedField, PrimitiveType, Schema } from '../iceberg/spec/types.js';

type Def = readonly [name: string, type: DefType, required?: boolean];
type DefType = PrimitiveType | { readonly struct: readonly Def[] } | { readonly list: DefType } | { readonly map: DefType };

const LINK: readonly Def[] = [
  ['page_id', 'long'],
  ['page_title', 'string'],
  ['namespace_id', 'int'],
  ['is_redirect', 'boolean'],
  ['interwiki_prefix', 'string'],
  ['wikibase_item_id', 'string'],
];
const PAGE: readonly Def[] = [
  ['page_id', 'long'],
  ['page_title', 'string'],
  ['namespace_id', 'int'],
  ['is_redirect', 'boolean'],
  ['revision_count', 'long'],
  ['namespace_is_content', 'boolean'],
  ['wikibase_item_id', 'string'],
  ['redirect_page_link', { struct: LINK }],
];
const USER: readonly Def[] = [
  ['user_text', 'string'],
  ['user_id', 'long'],
  ['groups', { list: 'string' }],
  ['is_bot', 'boolean'],
  ['is_system', 'boolean'],
  ['is_temp', 'boolean'],
  ['edit_count', 'long'],
  ['registration_dt', 'string'],
  ['user_central_id', 'long'],
  ['wiki_id', 'string'],
  ['first_edit_dt', 'string'],
  ['edit_global_count', 'long'],
];
const SLOT: readonly Def[] = [
  ['slot_role', 'string'],
  ['content_model', 'string'],
  ['content_format', 'string'],
  ['content_sha1', 'string'],
  ['content_size', 'long'],
  ['origin_rev_id', 'long'],
  ['content_body', 'string'],
];
const REVERT: readonly Def[] = [
  ['method', 'string'],
  ['is_exact', 'boolean'],
  ['rev_original_id', 'long'],
  ['rev_original_dt', 'string'],
  ['rev_reverted_oldest_id', 'long'],
  ['rev_reverted_newest_id', 'long'],
];
const REVISION_FIELDS: readonly Def[] = [
  ['rev_id', 'long'],
  ['rev_dt', 'timestamptz'],
  ['rev_parent_id', 'long'],
  ['rev_sha1', 'string'],
  ['rev_size', 'long'],
  ['is_minor_edit', 'boolean'],
  ['comment', 'string'],
  ['editor', { struct: USER }],
  ['is_content_visible', 'boolean'],
  ['is_editor_visible', 'boolean'],
  ['is_comment_visible', 'boolean'],
  ['content_slots', { map: { struct: SLOT } }],
  ['revert', { struct: REVERT }],
];

const EVENT: readonly Def[] = [
  ['_schema', 'string', true],
  [
    'meta',
    {
      struct: [
        ['stream', 'string'],
        ['dt', 'timestamptz'],
        ['id', 'string'],
        ['request_id', 'string'],
        ['domain', 'string'],
        ['uri', 'string'],
      ],
    },
    true,
  ],
  ['dt', 'timestamptz'],
  ['wiki_id', 'string'],
  ['changelog_kind', 'string'],
  ['page_change_kind', 'string'],
  ['comment', 'string'],
  ['page', { struct: PAGE }],
  ['revision', { struct: REVISION_FIELDS }],
  ['performer', { struct: USER }],
  ['prior_state', { struct: [['page', { struct: PAGE }], ['revision', { struct: REVISION_FIELDS }]] }],
  ['created_redirect_page', { struct: PAGE }],
  ['_kafka_topic', 'string', true],
  ['_kafka_partition', 'int', true],
  ['_kafka_offset', 'long', true],
  ['_kafka_timestamp', 'timestamptz'],
  ['_unknown_properties', 'string'],
];

function build(defs: readonly Def[], next: { id: number }): NestedField[] {
  // Ids of a struct's own fields first, then their children (Java's assignment order).
  const ids = defs.map(() => next.id++);
  return defs.map(([name, type, required], i) => ({ id: ids[i]!, name, required: required ?? false, type: buildType(type, next) }));
}

function buildType(t: DefType, next: { id: number }): IcebergType {
  if (typeof t === 'string') return t;
  if ('struct' in t) return { type: 'struct', fields: build(t.struct, next) };
  if ('list' in t) {
    const elementId = next.id++;
    return { type: 'list', elementId, elementRequired: false, element: buildType(t.list, next) };
  }
  const keyId = next.id++;
  const valueId = next.id++;
  return { type: 'map', keyId, key: 'string', valueId, valueRequired: false, value: buildType(t.map, next) };
}

export const EVENTS_SCHEMA: Schema = { schemaId: 0, fields: build(EVENT, { id: 1 }) };

const fieldId = (name: string) => EVENTS_SCHEMA.fields.find((f) => f.name === name)!.id;
const metaDtId = (() => {
  const meta = EVENTS_SCHEMA.fields.find((f) => f.name === 'meta')!.type as unknown as { fields: NestedField[] };
  return meta.fields.find((f) => f.name === 'dt')!.id;
})();

/** identity(wiki_id), day(meta.dt): dumps and merges read one wiki's days. */
export const EVENTS_SPEC: PartitionSpec = {
  specId: 0,
  fields: [
    { sourceId: fieldId('wiki_id'), fieldId: 1000, name: 'wiki_id', transform: { kind: 'identity' } },
    { sourceId: metaDtId, fieldId: 1001, name: 'meta_dt_day', transform: { kind: 'day' } },
  ],
};

export const KAFKA_OFFSETS_PROPERTY = 'mwlake.kafka.offsets';
export const KAFKA_GAPS_PROPERTY = 'mwlake.kafka.gaps';

export interface KafkaCoordinates {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestampMs: number;
}

type Json = Record<string, unknown>;

/** Splits `value` into what the struct knows and what it does not (undefined when nothing). */
function project(value: unknown, fields: readonly NestedField[]): { known: Json; unknown?: Json } {
  const known: Json = {};
  const unknown: Json = {};
  const o = value as Json;
  for (const key of Object.keys(o)) {
    const field = fields.find((f) => f.name === key);
    if (field === undefined) {
      unknown[key] = o[key];
      continue;
    }
    const [k, u] = projectValue(o[key], field.type);
    known[key] = k;
    if (u !== undefined) unknown[key] = u;
  }
  return Object.keys(unknown).length === 0 ? { known } : { known, unknown };
}

function projectValue(value: unknown, type: IcebergType): [unknown, unknown] {
  if (value === null || value === undefined || typeof type === 'string') return [value ?? null, undefined];
  if (type.type === 'struct') {
    if (typeof value !== 'object' || Array.isArray(value)) return [null, value];
    const p = project(value, type.fields);
    return [p.known, p.unknown];
  }
  if (type.type === 'map') {
    const known: Json = {};
    const unknown: Json = {};
    for (const [k, v] of Object.entries(value as Json)) {
      const [kv, uv] = projectValue(v, type.value);
      known[k] = kv;
      if (uv !== undefined) unknown[k] = uv;
    }
    return [known, Object.keys(unknown).length === 0 ? undefined : unknown];
  }
  return [value, undefined];
}

/** The events-table row of a valid event, as JSON-ready values (timestamps stay ISO strings). */
export function eventRow(event: object, kafka: KafkaCoordinates): Json {
  const { $schema, ...rest } = event as Json;
  const { known, unknown } = project(rest, EVENTS_SCHEMA.fields);
  return {
    _schema: $schema,
    ...known,
    _kafka_topic: kafka.topic,
    _kafka_partition: kafka.partition,
    _kafka_offset: kafka.offset.toString(),
    _kafka_timestamp: new Date(kafka.timestampMs).toISOString(),
    _unknown_properties: unknown === undefined ? null : JSON.stringify(unknown),
  };
}

/** Days since the epoch of meta.dt (the day partition), or null if it has none. */
export function eventDay(event: { readonly meta?: { readonly dt?: string } }): number | null {
  const ms = event.meta?.dt === undefined ? NaN : Date.parse(event.meta.dt);
  return Number.isNaN(ms) ? null : Math.floor(ms / 86_400_000);
}
