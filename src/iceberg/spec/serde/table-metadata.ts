// Table metadata JSON (format/spec.md §Table Metadata Fields) for format versions 1 and 2 to one
// model, and the model to v2 JSON. 64-bit ids stay exact (lossless parse, bigint in the model).
// Missing optional fields get the defaults Java applies (iceberg-notes §1).

import { SpecViolationError } from '../../../core/errors.js';
import { parseJsonBigInt, stringifyJsonBigInt, toBigInt } from '../../../core/json-bigint.js';
import { UNPARTITIONED_LAST_PARTITION_ID, type PartitionSpec } from '../partition.js';
import { MAIN_BRANCH, type Snapshot, type SnapshotRef } from '../snapshot.js';
import { UNSORTED_ORDER } from '../sort-order.js';
import { snapshotReferenceViolation, type TableMetadata } from '../table-metadata.js';
import {
  partitionFieldsFromJson,
  partitionSpecFromJson,
  partitionSpecToJson,
  schemaFromJson,
  schemaToJson,
  sortOrderFromJson,
  sortOrderToJson,
} from './schema.js';

type Json = Record<string, unknown>;

function need(o: Json, key: string): unknown {
  if (!(key in o) || o[key] === undefined) throw new SpecViolationError(`table metadata is missing required field "${key}"`);
  return o[key];
}

function int(value: unknown, what: string): number {
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new SpecViolationError(`table metadata field ${what} must be a number`);
  return n;
}

function snapshotFromJson(value: unknown, index: number): Snapshot {
  const o = value as Json;
  const what = `snapshots[${index}]`;
  const summary = (o['summary'] ?? { operation: 'append' }) as Json;
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(summary)) if (k !== 'operation') properties[k] = String(v);
  const operation = String(summary['operation'] ?? 'append');
  if (!['append', 'replace', 'overwrite', 'delete'].includes(operation)) throw new SpecViolationError(`${what}.summary.operation is ${JSON.stringify(operation)}`);
  const manifestList = o['manifest-list'];
  if (typeof manifestList !== 'string') {
    throw new SpecViolationError(`${what} has no manifest-list (v1 inline "manifests" are not supported)`);
  }
  return {
    snapshotId: toBigInt(o['snapshot-id'], `${what}.snapshot-id`),
    ...(o['parent-snapshot-id'] === undefined || o['parent-snapshot-id'] === null ? {} : { parentSnapshotId: toBigInt(o['parent-snapshot-id'], `${what}.parent-snapshot-id`) }),
    sequenceNumber: o['sequence-number'] === undefined ? 0n : toBigInt(o['sequence-number'], `${what}.sequence-number`),
    timestampMs: int(o['timestamp-ms'], `${what}.timestamp-ms`),
    manifestList,
    summary: { operation: operation as Snapshot['summary']['operation'], properties },
    ...(o['schema-id'] === undefined ? {} : { schemaId: int(o['schema-id'], `${what}.schema-id`) }),
  };
}

export function parseTableMetadata(text: string, what = 'table metadata'): TableMetadata {
  const o = parseJsonBigInt(text, what) as Json;
  if (o === null || typeof o !== 'object') throw new SpecViolationError(`${what} is not a JSON object`);
  const formatVersion = int(need(o, 'format-version'), 'format-version');
  if (formatVersion !== 1 && formatVersion !== 2) throw new SpecViolationError(`${what}: format-version ${formatVersion} is not supported (1 and 2 are)`);

  const schemas = Array.isArray(o['schemas']) ? o['schemas'].map((s, i) => schemaFromJson(s, `schemas[${i}]`)) : [schemaFromJson(need(o, 'schema'), 'schema')];
  const currentSchemaId = o['current-schema-id'] === undefined ? schemas[0]!.schemaId : int(o['current-schema-id'], 'current-schema-id');
  const partitionSpecs: PartitionSpec[] = Array.isArray(o['partition-specs'])
    ? o['partition-specs'].map((s, i) => partitionSpecFromJson(s, `partition-specs[${i}]`))
    : [{ specId: 0, fields: partitionFieldsFromJson(need(o, 'partition-spec'), 'partition-spec') }];
  const defaultSpecId = o['default-spec-id'] === undefined ? partitionSpecs[0]!.specId : int(o['default-spec-id'], 'default-spec-id');
  const allPartitionIds = partitionSpecs.flatMap((s) => s.fields.map((f) => f.fieldId));
  const snapshots = Array.isArray(o['snapshots']) ? o['snapshots'].map(snapshotFromJson) : [];
  const rawCurrent = o['current-snapshot-id'];
  const currentSnapshotId = rawCurrent === undefined || rawCurrent === null ? undefined : toBigInt(rawCurrent, 'current-snapshot-id');
  const current = currentSnapshotId === -1n ? undefined : currentSnapshotId;
  const refs: Record<string, SnapshotRef> = {};
  for (const [name, ref] of Object.entries((o['refs'] ?? {}) as Record<string, Json>)) {
    refs[name] = {
      snapshotId: toBigInt(ref['snapshot-id'], `refs.${name}.snapshot-id`),
      type: ref['type'] === 'tag' ? 'tag' : 'branch',
      ...(ref['min-snapshots-to-keep'] === undefined ? {} : { minSnapshotsToKeep: int(ref['min-snapshots-to-keep'], 'min-snapshots-to-keep') }),
      ...(ref['max-snapshot-age-ms'] === undefined ? {} : { maxSnapshotAgeMs: int(ref['max-snapshot-age-ms'], 'max-snapshot-age-ms') }),
      ...(ref['max-ref-age-ms'] === undefined ? {} : { maxRefAgeMs: int(ref['max-ref-age-ms'], 'max-ref-age-ms') }),
    };
  }
  if (current !== undefined && refs[MAIN_BRANCH] === undefined) refs[MAIN_BRANCH] = { snapshotId: current, type: 'branch' };
  // As Java refuses to load it: a commit on a current snapshot it cannot find would start from an empty table.
  const violation = snapshotReferenceViolation({ snapshots, refs, ...(current === undefined ? {} : { currentSnapshotId: current }) });
  if (violation !== undefined) throw new SpecViolationError(`${what}: ${violation}`);
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries((o['properties'] ?? {}) as Json)) properties[k] = String(v);
  const sortOrders = Array.isArray(o['sort-orders']) ? o['sort-orders'].map((s, i) => sortOrderFromJson(s, `sort-orders[${i}]`)) : [UNSORTED_ORDER];
  return {
    formatVersion,
    tableUuid: typeof o['table-uuid'] === 'string' ? o['table-uuid'] : (need(o, 'table-uuid') as string),
    location: need(o, 'location') as string,
    lastSequenceNumber: o['last-sequence-number'] === undefined ? 0n : toBigInt(o['last-sequence-number'], 'last-sequence-number'),
    lastUpdatedMs: int(need(o, 'last-updated-ms'), 'last-updated-ms'),
    lastColumnId: int(need(o, 'last-column-id'), 'last-column-id'),
    schemas,
    currentSchemaId,
    partitionSpecs,
    defaultSpecId,
    lastPartitionId:
      o['last-partition-id'] === undefined ? Math.max(UNPARTITIONED_LAST_PARTITION_ID, ...allPartitionIds) : int(o['last-partition-id'], 'last-partition-id'),
    properties,
    ...(current === undefined ? {} : { currentSnapshotId: current }),
    snapshots,
    snapshotLog: ((o['snapshot-log'] ?? []) as Json[]).map((e) => ({ timestampMs: int(e['timestamp-ms'], 'snapshot-log.timestamp-ms'), snapshotId: toBigInt(e['snapshot-id'], 'snapshot-log.snapshot-id') })),
    metadataLog: ((o['metadata-log'] ?? []) as Json[]).map((e) => ({ timestampMs: int(e['timestamp-ms'], 'metadata-log.timestamp-ms'), metadataFile: String(e['metadata-file']) })),
    sortOrders,
    defaultSortOrderId: o['default-sort-order-id'] === undefined ? sortOrders[0]!.orderId : int(o['default-sort-order-id'], 'default-sort-order-id'),
    refs,
    ...(Array.isArray(o['statistics']) ? { statistics: o['statistics'] } : {}),
    ...(Array.isArray(o['partition-statistics']) ? { partitionStatistics: o['partition-statistics'] } : {}),
  };
}

function snapshotToJson(s: Snapshot): Json {
  return {
    'snapshot-id': s.snapshotId,
    ...(s.parentSnapshotId === undefined ? {} : { 'parent-snapshot-id': s.parentSnapshotId }),
    'sequence-number': s.sequenceNumber,
    'timestamp-ms': s.timestampMs,
    'manifest-list': s.manifestList,
    summary: { operation: s.summary.operation, ...s.summary.properties },
    ...(s.schemaId === undefined ? {} : { 'schema-id': s.schemaId }),
  };
}

/** v2 JSON with every required field; `current-snapshot-id` is -1 for an empty table, as Java writes. */
export function serializeTableMetadata(m: TableMetadata): string {
  const refs: Json = {};
  for (const [name, ref] of Object.entries(m.refs)) {
    refs[name] = {
      'snapshot-id': ref.snapshotId,
      type: ref.type,
      ...(ref.minSnapshotsToKeep === undefined ? {} : { 'min-snapshots-to-keep': ref.minSnapshotsToKeep }),
      ...(ref.maxSnapshotAgeMs === undefined ? {} : { 'max-snapshot-age-ms': ref.maxSnapshotAgeMs }),
      ...(ref.maxRefAgeMs === undefined ? {} : { 'max-ref-age-ms': ref.maxRefAgeMs }),
    };
  }
  return stringifyJsonBigInt(
    {
      'format-version': 2,
      'table-uuid': m.tableUuid,
      location: m.location,
      'last-sequence-number': m.lastSequenceNumber,
      'last-updated-ms': m.lastUpdatedMs,
      'last-column-id': m.lastColumnId,
      'current-schema-id': m.currentSchemaId,
      schemas: m.schemas.map(schemaToJson),
      'default-spec-id': m.defaultSpecId,
      'partition-specs': m.partitionSpecs.map(partitionSpecToJson),
      'last-partition-id': m.lastPartitionId,
      'default-sort-order-id': m.defaultSortOrderId,
      'sort-orders': m.sortOrders.map(sortOrderToJson),
      properties: m.properties,
      'current-snapshot-id': m.currentSnapshotId ?? -1,
      refs,
      snapshots: m.snapshots.map(snapshotToJson),
      ...(m.statistics === undefined ? {} : { statistics: m.statistics }),
      ...(m.partitionStatistics === undefined ? {} : { 'partition-statistics': m.partitionStatistics }),
      'snapshot-log': m.snapshotLog.map((e) => ({ 'timestamp-ms': e.timestampMs, 'snapshot-id': e.snapshotId })),
      'metadata-log': m.metadataLog.map((e) => ({ 'timestamp-ms': e.timestampMs, 'metadata-file': e.metadataFile })),
    },
    2,
  );
}
