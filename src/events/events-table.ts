// The events table: one row per valid page change event, the event's own shape (structs, the
// content_slots map) as decision log #005 asks, plus Kafka coordinates, the `$schema` URI, and
// every property the schema does not know as JSON, so nothing a newer producer sends is lost.
// Field ids come from the definition order below: append new fields at the end of a struct.

import { stringifyJsonBigInt } from '../core/json-bigint.js';
import type { PartitionSpec } from '../iceberg/spec/partition.js';
import type { IcebergType, NestedField, PrimitiveType, Schema } from '../iceberg/spec/types.js';

/** A field in definition order (its id follows from the order); shared with visibility-change.ts. */
export type Def = readonly [name: string, type: DefType, required?: boolean];
export type DefType = PrimitiveType | { readonly struct: readonly Def[] } | { readonly list: DefType } | { readonly map: DefType };

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
/** `$schema` (as `_schema`) and the Event Platform's common `meta`: the first columns of every events table. */
export const EVENT_HEAD: readonly Def[] = [
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
];

/** Kafka coordinates and what the schema did not know: the last columns of every events table. */
export const KAFKA_COLUMNS: readonly Def[] = [
  ['_kafka_topic', 'string', true],
  ['_kafka_partition', 'int', true],
  ['_kafka_offset', 'long', true],
  ['_kafka_timestamp', 'timestamptz'],
  ['_unknown_properties', 'string'],
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
  ...EVENT_HEAD,
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
  ...KAFKA_COLUMNS,
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

/** The schema of top-level fields `defs`, ids assigned as Iceberg's Java library assigns them. */
export function schemaOfDefs(defs: readonly Def[]): Schema {
  return { schemaId: 0, fields: build(defs, { id: 1 }) };
}

export const EVENTS_SCHEMA: Schema = schemaOfDefs(EVENT);

/** identity(<wiki column>), day(meta.dt): merges read one wiki's days. The drain stages rows by this tuple. */
export function wikiDaySpec(schema: Schema, wikiColumn: string): PartitionSpec {
  const meta = schema.fields.find((f) => f.name === 'meta')!.type as unknown as { fields: NestedField[] };
  return {
    specId: 0,
    fields: [
      { sourceId: schema.fields.find((f) => f.name === wikiColumn)!.id, fieldId: 1000, name: wikiColumn, transform: { kind: 'identity' } },
      { sourceId: meta.fields.find((f) => f.name === 'dt')!.id, fieldId: 1001, name: 'meta_dt_day', transform: { kind: 'day' } },
    ],
  };
}

/** identity(wiki_id), day(meta.dt): dumps and merges read one wiki's days. */
export const EVENTS_SPEC: PartitionSpec = wikiDaySpec(EVENTS_SCHEMA, 'wiki_id');

export const KAFKA_OFFSETS_PROPERTY = 'mwlake.kafka.offsets';
export const KAFKA_GAPS_PROPERTY = 'mwlake.kafka.gaps';
/** Per partition, the identity of the last record the drain read (kafka/record-identity.ts). */
export const KAFKA_LAST_RECORDS_PROPERTY = 'mwlake.kafka.last-records';
/** Topics a drain read from their start again, told the stored offsets were another topic's. */
export const KAFKA_RESETS_PROPERTY = 'mwlake.kafka.resets';
/**
 * The offsets (events, but for transaction markers) a drain left before the end offsets it
 * planned, when its cap (drain.max_events, max_bytes) stopped it: until a drain reads to its
 * ends, no date is due for dumping.
 */
export const DRAIN_OFFSETS_LEFT_PROPERTY = 'mwlake.drain.offsets-left';

export interface KafkaCoordinates {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestampMs: number;
}

type Json = Record<string, unknown>;

/**
 * A value the events table cannot store as its column's type says, although the event passed its
 * schema: a timestamp DuckDB cannot read (a leap second), an int beyond 32 bits, a lone surrogate,
 * or a field of a later schema version with the wrong type. Such an event goes to the error stream:
 * staged, it would fail the chunk's encoding on every run.
 */
export class UnstorableValueError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`at ${path === '' ? '(root)' : path}: ${problem}`);
    this.name = 'UnstorableValueError';
  }

  /** The same problem one level up: `key` prepended to the path. */
  under(key: string): UnstorableValueError {
    return new UnstorableValueError(`/${key}${this.path}`, this.problem);
  }
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

// RFC 3339 as ajv-formats' date-time accepts it: `t` or a space for `T`, `z`, offsets without a colon.
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):?(\d{2})?)$/;
const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)}`;
  return `${typeof value} ${typeof value === 'object' ? '' : String(value)}`.trim();
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** A timestamp as UTC ISO-8601 with `T` and `Z` (the fraction kept as given, cut to 9 digits), which DuckDB and Date.parse both read. */
export function canonicalTimestamp(value: string): string {
  // The common case, already canonical, checked without the capturing regex.
  if (CANONICAL.test(value)) {
    const n = (at: number) => (value.charCodeAt(at) - 48) * 10 + value.charCodeAt(at + 1) - 48;
    const year = n(0) * 100 + n(2);
    const [month, day] = [n(5), n(8)];
    if (month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && n(11) <= 23 && n(14) <= 59 && n(17) <= 59) return value;
  }
  const m = TIMESTAMP.exec(value);
  if (m === null) throw new UnstorableValueError('', `expected an RFC 3339 date-time, found ${describe(value)}`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  // The column holds microseconds: digits past nanoseconds change nothing stored, and the parquet-wasm reader takes at most 9.
  const fraction = (m[7] ?? '').slice(0, 9);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59) {
    throw new UnstorableValueError('', `expected a valid date and time, found ${describe(value)}`);
  }
  if (second > 59) throw new UnstorableValueError('', `a leap second cannot be stored as a timestamp (${describe(value)})`);
  const offsetMinutes = m[8] === undefined ? 0 : (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10] ?? 0));
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offsetMinutes, second, 0);
  // An offset can carry the instant out of years 0000-9999, where toISOString writes ±YYYYYY, which DuckDB refuses.
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 0 || date.getUTCFullYear() > 9999) {
    throw new UnstorableValueError('', `expected a date-time within years 0000-9999 in UTC, found ${describe(value)}`);
  }
  return `${date.toISOString().slice(0, 19)}${fraction === '' ? '' : `.${fraction}`}Z`;
}

/** The stored form of a primitive value (timestamps made canonical), or an UnstorableValueError. */
function conformPrimitive(value: unknown, type: PrimitiveType, checkSurrogates: boolean): unknown {
  switch (type) {
    case 'string':
      if (typeof value !== 'string') throw new UnstorableValueError('', `the events table stores a string here, found ${describe(value)}`);
      if (checkSurrogates && !(value as unknown as { isWellFormed(): boolean }).isWellFormed()) throw new UnstorableValueError('', 'a string with an unpaired surrogate (\\ud800-\\udfff) cannot be stored');
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
        throw new UnstorableValueError('', `the events table stores a 32-bit integer here, found ${describe(value)}`);
      }
      return value;
    case 'long':
      // Staged lines are plain JSON, read back with JSON.parse (parquet-wasm): beyond ±2^53 it would round.
      if (typeof value === 'bigint') throw new UnstorableValueError('', `an integer beyond ±2^53 cannot be stored exactly here, found ${value}`);
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        throw new UnstorableValueError('', `the events table stores a 64-bit integer here, found ${describe(value)}`);
      }
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw new UnstorableValueError('', `the events table stores a boolean here, found ${describe(value)}`);
      return value;
    case 'timestamptz':
      if (typeof value !== 'string') throw new UnstorableValueError('', `the events table stores a date-time string here, found ${describe(value)}`);
      return canonicalTimestamp(value);
    default:
      return value;
  }
}

/** `o[key] = value`, except that a key "__proto__" (a slot role, a newer field) stays data: assigned, it would set the prototype and vanish. */
function put(o: Json, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}

/** Splits `value` into what the struct knows and what it does not (undefined when nothing). */
function project(value: unknown, fields: readonly NestedField[], checkSurrogates: boolean): { known: Json; unknown?: Json } {
  const known: Json = {};
  const unknown: Json = {};
  const o = value as Json;
  for (const key of Object.keys(o)) {
    const field = fields.find((f) => f.name === key);
    if (field === undefined) {
      put(unknown, key, o[key]);
      continue;
    }
    let projected: [unknown, unknown];
    try {
      projected = projectValue(o[key], field.type, checkSurrogates);
    } catch (error) {
      throw error instanceof UnstorableValueError ? error.under(key) : error;
    }
    known[key] = projected[0];
    if (projected[1] !== undefined) put(unknown, key, projected[1]);
  }
  return Object.keys(unknown).length === 0 ? { known } : { known, unknown };
}

function projectValue(value: unknown, type: IcebergType, checkSurrogates: boolean): [unknown, unknown] {
  if (value === null || value === undefined) return [null, undefined];
  if (typeof type === 'string') return [conformPrimitive(value, type, checkSurrogates), undefined];
  if (type.type === 'struct') {
    if (typeof value !== 'object' || Array.isArray(value)) return [null, value];
    const p = project(value, type.fields, checkSurrogates);
    return [p.known, p.unknown];
  }
  if (type.type === 'map') {
    if (typeof value !== 'object' || Array.isArray(value)) throw new UnstorableValueError('', `the events table stores an object here, found ${describe(value)}`);
    const known: Json = {};
    const unknown: Json = {};
    for (const [k, v] of Object.entries(value as Json)) {
      // A map key is a stored string too (a slot role): DuckDB's JSON reader refuses the chunk otherwise.
      if (checkSurrogates && !(k as unknown as { isWellFormed(): boolean }).isWellFormed()) {
        throw new UnstorableValueError('', `a map key with an unpaired surrogate (\\ud800-\\udfff) cannot be stored: ${JSON.stringify(k)}`);
      }
      let projected: [unknown, unknown];
      try {
        projected = projectValue(v, type.value, checkSurrogates);
      } catch (error) {
        throw error instanceof UnstorableValueError ? error.under(k) : error;
      }
      put(known, k, projected[0]);
      if (projected[1] !== undefined) put(unknown, k, projected[1]);
    }
    return [known, Object.keys(unknown).length === 0 ? undefined : unknown];
  }
  if (!Array.isArray(value)) throw new UnstorableValueError('', `the events table stores an array here, found ${describe(value)}`);
  return [
    value.map((element, i) => {
      try {
        return projectValue(element, type.element, checkSurrogates)[0];
      } catch (error) {
        throw error instanceof UnstorableValueError ? error.under(String(i)) : error;
      }
    }),
    undefined,
  ];
}

/**
 * Whether strings parsed from this JSON text need the lone-surrogate check: only a \\uD800-\\uDFFF
 * escape makes one (valid UTF-8 cannot), and one scan of the text is cheaper than one per string.
 */
export function mayHoldLoneSurrogates(jsonText: string): boolean {
  for (let at = jsonText.indexOf('\\u'); at !== -1; at = jsonText.indexOf('\\u', at + 2)) {
    const d = jsonText.charCodeAt(at + 2) | 0x20;
    const next = jsonText.charCodeAt(at + 3) | 0x20;
    // 'd' then 8, 9 or a-f (the escape's backslash may itself be escaped: a false alarm only costs the check).
    if (d === 0x64 && ((next >= 0x38 && next <= 0x39) || (next >= 0x61 && next <= 0x66))) return true;
  }
  return false;
}

/** Columns the table fills itself: an event property of the same name is unknown, not theirs. */
const BOOKKEEPING = new Set(['_schema', ...KAFKA_COLUMNS.map(([name]) => name)]);
const eventFieldsOf = new WeakMap<Schema, readonly NestedField[]>();

function eventFields(schema: Schema): readonly NestedField[] {
  let fields = eventFieldsOf.get(schema);
  if (fields === undefined) eventFieldsOf.set(schema, (fields = schema.fields.filter((f) => !BOOKKEEPING.has(f.name))));
  return fields;
}

/** The end of year 9999: past it toISOString writes `+YYYYYY`, which DuckDB and date-time refuse. */
const MAX_DATE_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * A Kafka record timestamp as an ISO instant, or null: -1 means none, and a producer may write
 * anything (micro- or nanoseconds, say) past year 9999; one such record must not stop every run.
 */
export function kafkaTimestampIso(timestampMs: number): string | null {
  return Number.isFinite(timestampMs) && timestampMs >= 0 && timestampMs <= MAX_DATE_MS ? new Date(timestampMs).toISOString() : null;
}

/** Where in `value` a number JSON cannot write sits (1e400 parses as Infinity, which JSON.stringify writes as null), or undefined. */
function nonFinitePath(value: unknown, path: string): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    const at = nonFinitePath(item, `${path}/${key}`);
    if (at !== undefined) return at;
  }
  return undefined;
}

/**
 * The events-table row of a valid event, as JSON-ready values (timestamps as canonical ISO
 * strings); throws UnstorableValueError for a value its column cannot hold. `checkSurrogates`
 * false skips the per-string check, for events parsed from text without surrogate escapes.
 */
export function eventRow(event: object, kafka: KafkaCoordinates, checkSurrogates = true, schema: Schema = EVENTS_SCHEMA): Json {
  const { $schema, ...rest } = event as Json;
  const { known, unknown } = project(rest, eventFields(schema), checkSurrogates);
  const nonFinite = unknown === undefined ? undefined : nonFinitePath(unknown, '');
  if (nonFinite !== undefined) throw new UnstorableValueError(nonFinite, 'a number beyond the double range (such as 1e400) cannot be stored exactly');
  return {
    _schema: $schema,
    ...known,
    _kafka_topic: kafka.topic,
    _kafka_partition: kafka.partition,
    _kafka_offset: kafka.offset.toString(),
    _kafka_timestamp: kafkaTimestampIso(kafka.timestampMs),
    _unknown_properties: unknown === undefined ? null : stringifyJsonBigInt(unknown),
  };
}

/** Days since the epoch of a row's meta.dt (the day partition: canonical, so Date.parse reads it), or null. */
export function rowDay(row: Json): number | null {
  const dt = (row['meta'] as { dt?: unknown } | null | undefined)?.dt;
  const ms = typeof dt === 'string' ? Date.parse(dt) : NaN;
  return Number.isNaN(ms) ? null : Math.floor(ms / 86_400_000);
}
