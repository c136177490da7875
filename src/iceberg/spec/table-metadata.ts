// The normalized table metadata model (format/spec.md §Table Metadata). Wire shapes for each format
// version live in serde/, as in iceberg-rust's table_metadata `_serde` module, so invalid input
// fails at that boundary and the rest of the code sees one shape.

import type { PartitionSpec } from './partition.js';
import { MAIN_BRANCH, type MetadataLogEntry, type Snapshot, type SnapshotLogEntry, type SnapshotRef } from './snapshot.js';
import type { SortOrder } from './sort-order.js';
import type { Schema } from './types.js';

/** We write version 2; versions 1 and 2 are read. */
export type FormatVersion = 1 | 2;

export interface TableMetadata {
  readonly formatVersion: FormatVersion;
  readonly tableUuid: string;
  /** Table root, a URI such as file:///warehouse/ns/table. */
  readonly location: string;
  readonly lastSequenceNumber: bigint;
  readonly lastUpdatedMs: number;
  readonly lastColumnId: number;
  readonly schemas: readonly Schema[];
  readonly currentSchemaId: number;
  readonly partitionSpecs: readonly PartitionSpec[];
  readonly defaultSpecId: number;
  readonly lastPartitionId: number;
  readonly properties: Readonly<Record<string, string>>;
  /** Undefined when the table has no current snapshot (Java writes -1 for that in v1/v2). */
  readonly currentSnapshotId?: bigint;
  readonly snapshots: readonly Snapshot[];
  readonly snapshotLog: readonly SnapshotLogEntry[];
  readonly metadataLog: readonly MetadataLogEntry[];
  readonly sortOrders: readonly SortOrder[];
  readonly defaultSortOrderId: number;
  readonly refs: Readonly<Record<string, SnapshotRef>>;
  /** Puffin statistics entries written by other engines, kept verbatim so a commit does not drop them. */
  readonly statistics?: readonly unknown[];
  readonly partitionStatistics?: readonly unknown[];
}

/** The snapshot and file of a statistics or partition-statistics entry (`snapshot-id`, `statistics-path`), as text. */
export function statisticsEntryFile(entry: unknown): { readonly snapshotId: string; readonly path: string } {
  const e = entry as { 'snapshot-id'?: unknown; 'statistics-path'?: unknown };
  return { snapshotId: String(e['snapshot-id'] ?? ''), path: String(e['statistics-path'] ?? '') };
}

/** The statistics and partition-statistics files `m` names. */
export function statisticsPaths(m: TableMetadata): Set<string> {
  return new Set([...(m.statistics ?? []), ...(m.partitionStatistics ?? [])].map((e) => statisticsEntryFile(e).path).filter((p) => p !== ''));
}

/**
 * How `m`'s current snapshot and refs disagree with its snapshots, if they do: a current snapshot
 * or a ref naming a snapshot it lacks, or branch main elsewhere than the current snapshot. Java
 * refuses to load such metadata (TableMetadata's ref validation), so the parser refuses it and no
 * writer may commit it.
 */
export function snapshotReferenceViolation(m: Pick<TableMetadata, 'currentSnapshotId' | 'snapshots' | 'refs'>): string | undefined {
  const ids = new Set(m.snapshots.map((s) => s.snapshotId));
  const current = m.currentSnapshotId;
  if (current !== undefined && !ids.has(current)) return `current-snapshot-id ${current} is not one of its snapshots`;
  const main = m.refs[MAIN_BRANCH];
  if (main !== undefined && main.snapshotId !== current) return `branch main is at snapshot ${main.snapshotId} but current-snapshot-id is ${current ?? 'none'}`;
  for (const [name, ref] of Object.entries(m.refs)) {
    if (!ids.has(ref.snapshotId)) return `refs.${name} names snapshot ${ref.snapshotId}, which is not one of its snapshots (drop or move that ${ref.type} with the engine that wrote it)`;
  }
  return undefined;
}

/** An integer table property no smaller than `min`; an absent or invalid one takes `fallback`. */
export function intProperty(m: Pick<TableMetadata, 'properties'>, key: string, fallback: number, min = 1): number {
  const raw = m.properties[key];
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isSafeInteger(n) && n >= min ? n : fallback;
}
