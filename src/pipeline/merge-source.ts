// What a state table's merge reads of an events table: the files the snapshots after the one it
// recorded added, as rows with their position deletes applied (a forced replay hides the rows it
// replaces). After a rollback of the events table the recorded snapshot is no longer in its
// history; the merge then reads from where the two histories meet, which is safe because merging
// an event again changes nothing, and says what the abandoned snapshots left in state.

import { JobError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { emptyRelationSql, sqlString, sqlStringList } from '../duckdb/iceberg-types.js';
import { deletesApplyingTo, type IncrementalPlan } from '../iceberg/scan/incremental.js';
import type { PlannedFile } from '../iceberg/scan/plan.js';
import type { Snapshot } from '../iceberg/spec/snapshot.js';
import type { Schema } from '../iceberg/spec/types.js';
import type { Table } from '../iceberg/table.js';
import type { Warehouse } from '../iceberg/catalog.js';
import { PAGES_TABLE, REVISIONS_TABLE, SOURCE_SNAPSHOT_PROPERTY, STATE_NAMESPACE, VISIBILITY_SOURCE_SNAPSHOT_PROPERTY } from '../merge/state-schema.js';

/** What a merge reads of a source, and whether the state folded none of those files before. */
export interface MergeRangePlan extends IncrementalPlan {
  /**
   * True when the range starts where the state's fold ended (or where the rolled-back history
   * meets the current one): rows removed from its files were never folded. False when it starts
   * earlier, re-reading files the state folded (their history expired).
   */
  readonly unfoldedOnly: boolean;
}

export const NOTHING: MergeRangePlan = { dataFiles: [], deleteFiles: [], unfoldedOnly: true };

interface RangeOptions {
  readonly source: Table;
  readonly targetId: bigint;
  readonly state: Table;
  /** `state`'s name for the operator (`state.pages`). */
  readonly stateName: string;
  readonly property: string;
  readonly logger: Logger;
}

/**
 * The files of `source` a merge into `state` reads to reach `targetId`, from the source snapshot
 * `state` recorded under `property`.
 */
export async function mergeRange(o: RangeOptions): Promise<MergeRangePlan> {
  const { source, targetId, state } = o;
  const recorded = state.summaryProperty(o.property)?.value;
  const from = recorded === undefined ? undefined : BigInt(recorded);
  if (from === targetId) return NOTHING;
  // A state without a recorded source may hold rows of any file: none counts as unfolded.
  if (from === undefined || source.isAncestorOf(targetId, from)) return { ...(await source.changesBetween(from, targetId)), unfoldedOnly: from !== undefined };
  const { start, atCommonAncestor } = rollbackStart(o, from);
  return start === targetId ? NOTHING : { ...(await source.changesBetween(start, targetId)), unfoldedOnly: atCommonAncestor };
}

/**
 * Where a merge whose recorded source `from` is off the source's history starts, with the
 * warning; whether that is where the two histories meet (after it, the current history added
 * only files the state never folded).
 */
function rollbackStart(o: RangeOptions, from: bigint): { start: bigint | undefined; atCommonAncestor: boolean } {
  const { source, targetId, state } = o;
  const history = new Set(source.lineage(targetId).map((s) => s.snapshotId));
  // The newest state snapshot built only from events still in the history: rolling back to it drops the rest.
  const clean = state.lineage(state.currentSnapshot()!.snapshotId).find((s) => {
    const v = state.summaryProperty(o.property, s)?.value;
    return v !== undefined && history.has(BigInt(v));
  });
  const cleanSource = clean === undefined ? undefined : BigInt(state.summaryProperty(o.property, clean)!.value);
  const common = source.newestCommonAncestor(from, targetId);
  // Expiry may have removed `from`'s history; the state's own record of its sources then tells.
  const start = common ?? cleanSource;
  const name = o.stateName;
  o.logger.warn(
    {
      table: name,
      source: source.location,
      recorded: from.toString(),
      current: targetId.toString(),
      commonAncestor: start?.toString() ?? null,
      ...(clean === undefined ? {} : { rollBackTo: clean.snapshotId.toString() }),
    },
    `merge: ${name} merged up to snapshot ${from}, which is not an ancestor of the current snapshot ${targetId} (the table was rolled back, or that history expired); ` +
      (start === undefined ? 'merging every live row again. ' : `merging what was added after snapshot ${start}. `) +
      `${name} still holds what the abandoned snapshots added` +
      (clean === undefined ? '.' : `; to drop it, roll it back as well: mwlake table rollback ${name} --to ${clean.snapshotId} (the next merge then merges from there)`),
  );
  return { start, atCommonAncestor: common !== undefined };
}

/**
 * SQL of the rows of `dataFiles` (in `schema`, older files' columns by name) that none of
 * `deleteFiles` removes, as a relation to follow FROM. Without deletes that apply, the plain read.
 */
export function rowsSql(table: Table, dataFiles: readonly PlannedFile[], deleteFiles: readonly PlannedFile[], schema: Schema): string {
  if (dataFiles.length === 0) return `(${emptyRelationSql(schema)})`;
  const files = sqlStringList(dataFiles.map((f) => localPath(table, f.file.filePath)));
  const deletes = deletesApplyingTo(deleteFiles, dataFiles);
  if (deletes.length === 0) return `read_parquet(${files}, union_by_name = true)`;
  return `(SELECT e.* EXCLUDE (filename, file_row_number)
    FROM read_parquet(${files}, union_by_name = true, filename = true, file_row_number = true) e
    ANTI JOIN (${deletedPositionsSql(table, dataFiles.map((f) => f.file.filePath), deletes)}) x ON x.filename = e.filename AND x.pos = e.file_row_number)`;
}

/**
 * SQL of the positions `deletes` remove from the data files at `locations`, as (local `filename`,
 * `pos`): deletes name a file by its location, read_parquet by its local path.
 */
export function deletedPositionsSql(table: Table, locations: readonly string[], deletes: readonly PlannedFile[]): string {
  const names = locations.map((l) => `(${sqlString(l)}, ${sqlString(localPath(table, l))})`).join(', ');
  return `SELECT n.filename, d.pos FROM read_parquet(${sqlStringList(deletes.map((f) => localPath(table, f.file.filePath)))}) d
    JOIN (VALUES ${names}) n(location, filename) ON n.location = d.file_path`;
}

export function localPath(table: Table, location: string): string {
  const path = table.storage.localPath(location);
  if (path === undefined) throw new JobError('CONFIG', `merge needs local files; ${location} has no local path`);
  return path;
}

/** What the next merge would read of one events table: the snapshots that changed its rows since the one a state table recorded. */
export interface UnmergedEvents {
  /** `events.page_content_change`. */
  readonly table: string;
  /** The snapshot the state table recorded (null: it never merged from this table). */
  readonly mergedSnapshotId: string | null;
  readonly currentSnapshotId: string;
  /** Snapshots since then that add data or delete files (drains, replays); compactions change no row. */
  readonly snapshots: number;
  /** Rows those snapshots added. */
  readonly records: number;
}

/**
 * The events of `source` that `state` has not merged (summaryProperty `property`), from snapshot
 * summaries alone (no manifest read); undefined when there are none. Past a rollback or expiry,
 * counted from where the histories meet, as the merge reads (mergeRange).
 */
export function unmergedEvents(source: Table, name: string, state: Table | undefined, property: string): UnmergedEvents | undefined {
  const current = source.currentSnapshot();
  if (current === undefined) return undefined;
  const recorded = state?.summaryProperty(property)?.value;
  const from = recorded === undefined ? undefined : BigInt(recorded);
  const start = from === undefined || source.isAncestorOf(current.snapshotId, from) ? from : source.newestCommonAncestor(from, current.snapshotId);
  const since = start === undefined ? source.lineage(current.snapshotId) : source.ancestorsBetween(start, current.snapshotId);
  const count = (s: Snapshot, key: string) => Number(s.summary.properties[key] ?? 0);
  const changed = since.filter((s) => s.summary.operation !== 'replace' && count(s, 'added-data-files') + count(s, 'added-delete-files') > 0);
  if (changed.length === 0) return undefined;
  return {
    table: name,
    mergedSnapshotId: recorded ?? null,
    currentSnapshotId: current.snapshotId.toString(),
    snapshots: changed.length,
    records: changed.reduce((n, s) => n + count(s, 'added-records'), 0),
  };
}

/**
 * The job's events that `mwlake merge` has not folded into the state tables yet: the page changes
 * past the snapshot `state.pages` recorded (dumps pair the tables by it), and the legacy visibility
 * changes past the one `state.revisions` recorded.
 */
export async function unmergedJobEvents(warehouse: Warehouse, events: { readonly namespace: string; readonly name: string; readonly visibilityName: string }): Promise<UnmergedEvents[]> {
  const [pageChanges, visibility, pages, revisions] = await Promise.all([
    warehouse.tryLoadTable(events.namespace, events.name),
    warehouse.tryLoadTable(events.namespace, events.visibilityName),
    warehouse.tryLoadTable(STATE_NAMESPACE, PAGES_TABLE),
    warehouse.tryLoadTable(STATE_NAMESPACE, REVISIONS_TABLE),
  ]);
  const out = [
    pageChanges === undefined ? undefined : unmergedEvents(pageChanges, `${events.namespace}.${events.name}`, pages, SOURCE_SNAPSHOT_PROPERTY),
    visibility === undefined ? undefined : unmergedEvents(visibility, `${events.namespace}.${events.visibilityName}`, revisions, VISIBILITY_SOURCE_SNAPSHOT_PROPERTY),
  ];
  return out.filter((u) => u !== undefined);
}

/** One sentence per table for logs and `mwlake status`: how many events, since which snapshot. */
export function describeUnmerged(u: UnmergedEvents): string {
  return `${u.table} holds ${u.records} event${u.records === 1 ? '' : 's'} in ${u.snapshots} snapshot${u.snapshots === 1 ? '' : 's'} not merged yet ` +
    `(${u.mergedSnapshotId === null ? 'never merged' : `merged up to snapshot ${u.mergedSnapshotId}`}, current ${u.currentSnapshotId})`;
}

/**
 * The snapshot whose rows `snapshotId` holds: itself, or the newest ancestor past the snapshots
 * that change no row (compactions, and drains that committed offsets only). Recorded as the merge
 * source, so that a table merged before such a snapshot and one merged after it say they hold the
 * same events: after a merge died between its two commits, the next merge moves pages only, and
 * readers pair the tables by that source.
 */
export function rowsSnapshotOf(events: Pick<Table, 'snapshot'>, snapshotId: bigint): bigint {
  let s = events.snapshot(snapshotId);
  while (s !== undefined && changesNoRows(s) && s.parentSnapshotId !== undefined && events.snapshot(s.parentSnapshotId) !== undefined) s = events.snapshot(s.parentSnapshotId);
  return s?.snapshotId ?? snapshotId;
}

/**
 * A compaction, or a commit that added and removed no file (a drain that recorded offsets only).
 * Zero counts are omitted from a summary, so only one that counts files (its totals) says so.
 */
function changesNoRows(s: Snapshot): boolean {
  const p = s.summary.properties;
  const count = (key: string) => Number(p[key] ?? 0);
  if (s.summary.operation === 'replace') return true;
  return p['total-data-files'] !== undefined && ['added-data-files', 'deleted-data-files', 'added-delete-files', 'removed-delete-files'].every((key) => count(key) === 0);
}
