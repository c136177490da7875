// Manifest files (spec §Manifests): `manifest_entry` records with the `data_file` struct `r2`
// and the partition struct `r102`, field ids as Java's V2Metadata writes them (iceberg-notes §3),
// with the key-value metadata readers parse (`schema`, `partition-spec`, `partition-spec-id`,
// `format-version`, `content`).

import { SpecViolationError } from '../../core/errors.js';
import {
  DataFileContent,
  ManifestContent,
  ManifestEntryStatus,
  type DataFile,
  type FileFormat,
  type ManifestEntry,
} from '../spec/manifest.js';
import type { PartitionSpec, PartitionValue } from '../spec/partition.js';
import { partitionFieldsFromJson, partitionSpecToJson, schemaFromJson, schemaToJson } from '../spec/serde/schema.js';
import { partitionType } from '../spec/transform.js';
import { isPrimitive, type Schema, type StructType } from '../spec/types.js';
import { decodeContainer, encodeContainer } from './container.js';
import { fromAvroValue, primitiveAvroSchema, toAvroValue } from './primitive-schema.js';

const optional = (type: unknown) => ['null', type];

function intMap(name: string, id: number, keyId: number, valueId: number, valueType: 'long' | 'bytes') {
  return {
    name,
    type: optional({
      type: 'array',
      logicalType: 'map',
      items: {
        type: 'record',
        name: `k${keyId}_v${valueId}`,
        fields: [
          { name: 'key', type: 'int', 'field-id': keyId },
          { name: 'value', type: valueType, 'field-id': valueId },
        ],
      },
    }),
    default: null,
    'field-id': id,
  };
}

/**
 * A partition field's name as a valid Avro name, the way Java's AvroSchemaUtil.makeCompatibleName
 * writes it (`meta.dt_day` → `meta_x2Edt_day`, a leading digit `_1`); readers go by field id. Avro
 * names are ASCII, so other letters are escaped too (Java keeps them; avsc would refuse them).
 */
export function avroCompatibleName(name: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return name;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    const ok = i === 0 ? /[A-Za-z_]/.test(c) : /[A-Za-z0-9_]/.test(c);
    out += ok ? c : /[0-9]/.test(c) ? `_${c}` : `_x${name.charCodeAt(i).toString(16).toUpperCase()}`;
  }
  return out;
}

function partitionRecordSchema(struct: StructType): unknown {
  return {
    type: 'record',
    name: 'r102',
    fields: struct.fields.map((f) => {
      if (!isPrimitive(f.type)) throw new SpecViolationError(`partition field ${f.name} has a non-primitive type`);
      return { name: avroCompatibleName(f.name), type: optional(primitiveAvroSchema(f.type, f.id)), default: null, 'field-id': f.id };
    }),
  };
}

/** The v2 `manifest_entry` Avro schema for a partition struct. */
export function manifestEntrySchema(partition: StructType): object {
  const dataFile = {
    type: 'record',
    name: 'r2',
    fields: [
      { name: 'content', type: 'int', 'field-id': 134 },
      { name: 'file_path', type: 'string', 'field-id': 100 },
      { name: 'file_format', type: 'string', 'field-id': 101 },
      { name: 'partition', type: partitionRecordSchema(partition), 'field-id': 102 },
      { name: 'record_count', type: 'long', 'field-id': 103 },
      { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 },
      intMap('column_sizes', 108, 117, 118, 'long'),
      intMap('value_counts', 109, 119, 120, 'long'),
      intMap('null_value_counts', 110, 121, 122, 'long'),
      intMap('nan_value_counts', 137, 138, 139, 'long'),
      intMap('lower_bounds', 125, 126, 127, 'bytes'),
      intMap('upper_bounds', 128, 129, 130, 'bytes'),
      { name: 'key_metadata', type: optional('bytes'), default: null, 'field-id': 131 },
      { name: 'split_offsets', type: optional({ type: 'array', items: 'long', 'element-id': 133 }), default: null, 'field-id': 132 },
      { name: 'equality_ids', type: optional({ type: 'array', items: 'int', 'element-id': 136 }), default: null, 'field-id': 135 },
      { name: 'sort_order_id', type: optional('int'), default: null, 'field-id': 140 },
      { name: 'referenced_data_file', type: optional('string'), default: null, 'field-id': 143 },
    ],
  };
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      { name: 'status', type: 'int', 'field-id': 0 },
      { name: 'snapshot_id', type: optional('long'), default: null, 'field-id': 1 },
      { name: 'sequence_number', type: optional('long'), default: null, 'field-id': 3 },
      { name: 'file_sequence_number', type: optional('long'), default: null, 'field-id': 4 },
      { name: 'data_file', type: dataFile, 'field-id': 2 },
    ],
  };
}

type AvroMapEntry = { key: number; value: unknown };

function mapToAvro<V>(m: ReadonlyMap<number, V> | undefined, conv: (v: V) => unknown): AvroMapEntry[] | null {
  if (m === undefined) return null;
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([key, value]) => ({ key, value: conv(value) }));
}

function mapFromAvro<V>(entries: unknown, conv: (v: unknown) => V): Map<number, V> | undefined {
  if (entries === null || entries === undefined) return undefined;
  return new Map((entries as AvroMapEntry[]).map((e) => [e.key, conv(e.value)]));
}

const num = (v: unknown) => Number(v);
const toBytes = (v: unknown) => new Uint8Array(v as Buffer);
const buf = (v: Uint8Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

function entryToAvro(entry: ManifestEntry, partition: StructType): unknown {
  const f = entry.dataFile;
  if (f.partition.length !== partition.fields.length) {
    throw new SpecViolationError(`data file ${f.filePath} has ${f.partition.length} partition values, the spec has ${partition.fields.length} fields`);
  }
  const tuple: Record<string, unknown> = {};
  partition.fields.forEach((field, i) => (tuple[avroCompatibleName(field.name)] = toAvroValue(f.partition[i])));
  return {
    status: entry.status,
    snapshot_id: entry.snapshotId ?? null,
    sequence_number: entry.sequenceNumber ?? null,
    file_sequence_number: entry.fileSequenceNumber ?? null,
    data_file: {
      content: f.content,
      file_path: f.filePath,
      file_format: f.fileFormat,
      partition: tuple,
      record_count: BigInt(f.recordCount),
      file_size_in_bytes: BigInt(f.fileSizeInBytes),
      column_sizes: mapToAvro(f.columnSizes, BigInt),
      value_counts: mapToAvro(f.valueCounts, BigInt),
      null_value_counts: mapToAvro(f.nullValueCounts, BigInt),
      nan_value_counts: mapToAvro(f.nanValueCounts, BigInt),
      lower_bounds: mapToAvro(f.lowerBounds, buf),
      upper_bounds: mapToAvro(f.upperBounds, buf),
      key_metadata: f.keyMetadata === undefined ? null : buf(f.keyMetadata),
      split_offsets: f.splitOffsets === undefined ? null : f.splitOffsets.map(BigInt),
      equality_ids: f.equalityIds ?? null,
      sort_order_id: f.sortOrderId ?? null,
      referenced_data_file: f.referencedDataFile ?? null,
    },
  };
}

export interface ManifestWrite {
  readonly schema: Schema;
  readonly spec: PartitionSpec;
  readonly content: ManifestContent;
  readonly entries: readonly ManifestEntry[];
}

export async function encodeManifest(m: ManifestWrite): Promise<Uint8Array> {
  const partition = partitionType(m.spec, m.schema);
  const expected = m.content === ManifestContent.Data ? [DataFileContent.Data] : [DataFileContent.PositionDeletes, DataFileContent.EqualityDeletes];
  for (const e of m.entries) {
    if (!expected.includes(e.dataFile.content)) {
      throw new SpecViolationError(`a ${m.content === ManifestContent.Data ? 'data' : 'deletes'} manifest cannot hold ${e.dataFile.filePath} (content ${e.dataFile.content})`);
    }
  }
  return encodeContainer(
    manifestEntrySchema(partition),
    m.entries.map((e) => entryToAvro(e, partition)),
    {
      schema: JSON.stringify(schemaToJson(m.schema)),
      'schema-id': String(m.schema.schemaId),
      'partition-spec': JSON.stringify((partitionSpecToJson(m.spec) as { fields: unknown }).fields),
      'partition-spec-id': String(m.spec.specId),
      'format-version': '2',
      content: m.content === ManifestContent.Data ? 'data' : 'deletes',
    },
  );
}

export interface DecodedManifest {
  readonly specId: number;
  /** The table schema the writer recorded (`schema-id`), if it did. */
  readonly schemaId?: number;
  readonly content: ManifestContent;
  readonly entries: ManifestEntry[];
}

interface AvroEntry {
  status: number;
  snapshot_id: bigint | null;
  sequence_number?: bigint | null;
  file_sequence_number?: bigint | null;
  data_file: Record<string, unknown>;
}

type AvroField = { name?: unknown; type?: unknown; 'field-id'?: unknown };

/**
 * The Avro names of the partition record's fields by partition field id, from the file's own
 * schema: PyIceberg (and Java) write a name that is no valid Avro name (`meta.dt_day`, `wiki-id`)
 * sanitized (`meta_x2Edt_day`), with the field id kept.
 */
function partitionAvroNames(avroSchema: string | undefined): Map<number, string> {
  const out = new Map<number, string>();
  if (avroSchema === undefined) return out;
  const fieldsOf = (type: unknown) => ((type as { fields?: unknown } | null)?.fields ?? []) as AvroField[];
  const dataFile = fieldsOf(JSON.parse(avroSchema)).find((f) => f.name === 'data_file');
  const partition = fieldsOf(dataFile?.type).find((f) => f.name === 'partition');
  for (const f of fieldsOf(partition?.type)) if (typeof f['field-id'] === 'number' && typeof f.name === 'string') out.set(f['field-id'], f.name);
  return out;
}

/** Reads a v1 or v2 manifest; the partition struct comes from the file's own Avro schema. */
export async function decodeManifest(bytes: Uint8Array, what: string): Promise<DecodedManifest> {
  const { metadata, records } = await decodeContainer(bytes, what);
  const formatVersion = Number(metadata['format-version'] ?? '1');
  const specId = Number(metadata['partition-spec-id'] ?? '0');
  const content = metadata['content'] === 'deletes' ? ManifestContent.Deletes : ManifestContent.Data;
  let fieldNames: string[] = [];
  if (metadata['partition-spec'] !== undefined && metadata['schema'] !== undefined) {
    const schema = schemaFromJson(JSON.parse(metadata['schema']), `${what} schema`);
    const fields = partitionFieldsFromJson(JSON.parse(metadata['partition-spec']), `${what} partition-spec`);
    const avroNames = partitionAvroNames(metadata['avro.schema']);
    fieldNames = partitionType({ specId, fields }, schema).fields.map((f) => avroNames.get(f.id) ?? avroCompatibleName(f.name));
  }
  const entries = (records as AvroEntry[]).map((r): ManifestEntry => {
    const d = r.data_file;
    const tuple = (d['partition'] ?? {}) as Record<string, unknown>;
    const names = fieldNames.length > 0 ? fieldNames : Object.keys(tuple);
    const v1 = formatVersion === 1;
    const dataFile: DataFile = {
      content: v1 ? DataFileContent.Data : (d['content'] as DataFileContent),
      filePath: d['file_path'] as string,
      fileFormat: String(d['file_format']).toUpperCase() as FileFormat,
      partition: names.map((n) => fromAvroValue(tuple[n]) as PartitionValue),
      recordCount: Number(d['record_count']),
      fileSizeInBytes: Number(d['file_size_in_bytes']),
      columnSizes: mapFromAvro(d['column_sizes'], num),
      valueCounts: mapFromAvro(d['value_counts'], num),
      nullValueCounts: mapFromAvro(d['null_value_counts'], num),
      nanValueCounts: mapFromAvro(d['nan_value_counts'], num),
      lowerBounds: mapFromAvro(d['lower_bounds'], toBytes),
      upperBounds: mapFromAvro(d['upper_bounds'], toBytes),
      keyMetadata: d['key_metadata'] == null ? undefined : toBytes(d['key_metadata']),
      splitOffsets: d['split_offsets'] == null ? undefined : (d['split_offsets'] as bigint[]).map(Number),
      equalityIds: (d['equality_ids'] as number[] | null | undefined) ?? undefined,
      sortOrderId: (d['sort_order_id'] as number | null | undefined) ?? undefined,
      referencedDataFile: (d['referenced_data_file'] as string | null | undefined) ?? undefined,
    };
    return {
      status: r.status as ManifestEntryStatus,
      snapshotId: r.snapshot_id ?? undefined,
      sequenceNumber: v1 ? 0n : (r.sequence_number ?? undefined),
      fileSequenceNumber: v1 ? 0n : (r.file_sequence_number ?? undefined),
      dataFile,
    };
  });
  const schemaId = metadata['schema-id'] === undefined ? undefined : Number(metadata['schema-id']);
  return { specId, ...(schemaId === undefined || !Number.isInteger(schemaId) ? {} : { schemaId }), content, entries };
}
