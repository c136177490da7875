// `mwlake maintain` (and the nightly's last step): per table, compact small files, expire old
// snapshots, then remove orphan files, each as configured; then the dump runs past dumps.keep_runs. Expiry never drops the events snapshots
// the state tables still have to merge from.

import type { Logger } from '../core/log.js';
import { openDuckDb, type DuckDb } from '../duckdb/connection.js';
import { rowGroupRows, sortColumns, writeDataFiles, writeSortedDataFile, type SortColumn } from '../duckdb/data-file-writer.js';
import { inKeyRangeUpToNextSql, keyRangeGroups } from '../duckdb/key-ranges.js';
import { quoteIdent } from '../duckdb/iceberg-types.js';
import { filesRelationSql } from '../duckdb/table-view.js';
import type { Warehouse } from '../iceberg/catalog.js';
import { compactionChange, notCompactable, planCompaction, type CompactionOptions, type RewriteGroup } from '../iceberg/maintenance/compaction-plan.js';
import { deleteApplies, type PlannedFile, type ScanPlan } from '../iceberg/scan/plan.js';
import { expireSnapshots, retainedSnapshotIds } from '../iceberg/maintenance/expire-snapshots.js';
import { removeOrphanFiles } from '../iceberg/maintenance/remove-orphans.js';
import type { DataFile } from '../iceberg/spec/manifest.js';
import { partitionPath } from '../iceberg/spec/transform.js';
import type { Snapshot } from '../iceberg/spec/snapshot.js';
import type { Table } from '../iceberg/table.js';
import { CommitStateUnknownError, JobError } from '../core/errors.js';
import { discardWritten } from '../core/storage.js';
import { PAGES_TABLE, REVISIONS_TABLE, SOURCE_SNAPSHOT_PROPERTY, SOURCE_TABLE_PROPERTY, STATE_NAMESPACE, STATE_ROW_BYTES_SQL, VISIBILITY_SOURCE_SNAPSHOT_PROPERTY, VISIBILITY_SOURCE_TABLE_PROPERTY } from '../merge/state-schema.js';
import { DRAIN_OFFSETS_LEFT_PROPERTY, KAFKA_LAST_RECORDS_PROPERTY, KAFKA_OFFSETS_PROPERTY } from '../events/events-table.js';
import { duckDbMemory, type JobConfig } from './config.js';
import { anyInRange, keyRange } from './key-bounds.js';
import { removeOldRuns, type RunRemovalResult } from './dump.js';

/** Summary properties later runs read (through ancestors); a maintenance commit repeats them. */
const CARRIED_PROPERTIES = [KAFKA_OFFSETS_PROPERTY, KAFKA_LAST_RECORDS_PROPERTY, DRAIN_OFFSETS_LEFT_PROPERTY, SOURCE_SNAPSHOT_PROPERTY, VISIBILITY_SOURCE_SNAPSHOT_PROPERTY, SOURCE_TABLE_PROPERTY, VISIBILITY_SOURCE_TABLE_PROPERTY];

export interface MaintenanceTableResult {
  readonly table: string;
  readonly compaction?: { readonly groups: number; readonly filesRewritten: number; readonly filesWritten: number; readonly bytesRewritten: number; readonly snapshotId?: string; readonly skipped?: string };
  /** filesNotDeleted: files expiry could not delete (each logged); a later expiry or orphan removal deletes them. */
  readonly expiry?: { readonly snapshotsExpired: number; readonly refsExpired: readonly string[]; readonly filesDeleted: number; readonly filesNotDeleted?: number };
  /** filesNotRemoved: orphans that could not be deleted (each logged); the next run tries again. */
  readonly orphans?: { readonly filesRemoved: number; readonly bytes: number; readonly filesNotRemoved?: number; readonly emptyFoldersRemoved?: number };
}

export interface MaintenanceResult {
  readonly tables: MaintenanceTableResult[];
  /** With dumps.keep_runs: the dump runs removed past it. */
  readonly dumpRuns?: RunRemovalResult;
  readonly durationMs: number;
}

export interface MaintenanceOptions {
  readonly config: JobConfig;
  readonly warehouse: Warehouse;
  readonly logger: Logger;
  readonly dryRun?: boolean;
  readonly nowMs?: number;
  /**
   * The start of the stalled run of this job whose lease this run took over: alive still, it may
   * commit the files it wrote since, so orphan removal spares them (the next night's takes them).
   */
  readonly tookOverFromMs?: number;
  /** Throws once another run has taken this run's lease over: checked before each table and each dump run removed. */
  readonly assertHeld?: () => void;
}

const DAY_MS = 86_400_000;

/** The `tookOverFromMs` option of a run under `lease`: none when it acquired a free lease. */
export function tookOverFrom(lease: { readonly tookOver?: { readonly startedAt: string } }): { tookOverFromMs?: number } {
  if (lease.tookOver === undefined) return {};
  // A lease file without a readable start (written by hand, or torn) spares everything up to now.
  const startedMs = Date.parse(lease.tookOver.startedAt);
  return { tookOverFromMs: Number.isFinite(startedMs) ? startedMs : Date.now() };
}

/**
 * The events snapshots from the oldest state table's merge source (recorded under `property`) up
 * to the current one. None before the first merge from the table: that merge reads the current
 * snapshot's live files.
 */
function snapshotsStillToMerge(events: Table, states: readonly Table[], property: string): bigint[] {
  const current = events.currentSnapshot();
  if (current === undefined) return [];
  const sources = states.map((t) => t.summaryProperty(property)?.value).filter((s): s is string => s !== undefined).map(BigInt);
  const keep: bigint[] = [];
  for (const source of sources) {
    try {
      keep.push(source, ...events.ancestorsBetween(source, current.snapshotId).map((s) => s.snapshotId));
    } catch {
      // The source is no longer an ancestor (rollback): the merge will say so; keep what exists.
      keep.push(source);
    }
  }
  return keep;
}

/**
 * The snapshots from the newest that records each of the job's bookkeeping properties to the
 * current one: the job reads them by walking back from the current snapshot (Table.summaryProperty),
 * and a commit by another engine (a Spark rewrite) does not carry them forward, so expiring that
 * snapshot, or one between, would lose the stored offsets or the merge's source.
 */
function bookkeepingSnapshots(table: Table): bigint[] {
  const current = table.currentSnapshot();
  if (current === undefined) return [];
  const keep = new Set<bigint>();
  for (const k of CARRIED_PROPERTIES) {
    const found = table.summaryProperty(k);
    if (found === undefined) continue;
    keep.add(found.snapshot.snapshotId);
    for (const s of table.ancestorsBetween(found.snapshot.snapshotId, current.snapshotId)) keep.add(s.snapshotId);
  }
  return [...keep];
}

/**
 * The revisions snapshots the pages snapshots that expiry keeps pair with (state-views.ts pairs
 * them by merge source): after a merge that committed revisions but not pages, the current pages
 * snapshot pairs with an older revisions snapshot than the current one. The views find a pair by
 * walking back from the current snapshot, so the snapshots between stay too: a gap would hide it.
 */
function revisionsPairedWithPages(revisions: Table, pages: Table | undefined, o: { olderThanMs: number; retainLast: number; nowMs: number }): bigint[] {
  if (pages === undefined) return [];
  const source = (t: Table, s: Snapshot) => t.summaryProperty(SOURCE_SNAPSHOT_PROPERTY, s)?.value;
  const sources = new Set<string>();
  for (const id of retainedSnapshotIds(pages.metadata, o)) {
    const s = pages.snapshot(id);
    const v = s === undefined ? undefined : source(pages, s);
    if (v !== undefined) sources.add(v);
  }
  const paired = revisions.metadata.snapshots.filter((s) => sources.has(source(revisions, s) ?? '')).map((s) => s.snapshotId);
  const current = revisions.currentSnapshot()?.snapshotId;
  if (current === undefined) return paired;
  return paired.flatMap((id) => (revisions.isAncestorOf(current, id) ? [id, ...revisions.ancestorsBetween(id, current).map((s) => s.snapshotId)] : [id]));
}

/** A row size estimate (content dominates) of the table `namespace.name`, to size sorted rewrites. */
function rowBytesSql(id: string): string {
  if (id === `${STATE_NAMESPACE}.${REVISIONS_TABLE}`) return STATE_ROW_BYTES_SQL[REVISIONS_TABLE];
  if (id === `${STATE_NAMESPACE}.${PAGES_TABLE}`) return STATE_ROW_BYTES_SQL[PAGES_TABLE];
  return '256';
}

/** The table's one sort key, when it is a long or int column: what keeps its files' key ranges disjoint. */
export interface RangeKey {
  readonly name: string;
  readonly fieldId: number;
  readonly type: 'long' | 'int';
}

function rangeKey(table: Table): RangeKey | undefined {
  const [field, ...more] = table.sortOrder().fields;
  if (field === undefined || more.length > 0 || field.direction !== 'asc' || field.transform.kind !== 'identity') return undefined;
  const column = table.schema().fields.find((f) => f.id === field.sourceId);
  // Required, as sortColumns asks of a range key: a NULL key has no range.
  if (column === undefined || !column.required || (column.type !== 'long' && column.type !== 'int')) return undefined;
  return { name: column.name, fieldId: column.id, type: column.type };
}

function keyBounds(file: DataFile, key: RangeKey): { lo: bigint; hi: bigint } | undefined {
  return keyRange(file, key.fieldId, key.type);
}

/** The group with `dataFiles` as its files, and the rest of its partition's as kept. */
function regrouped(g: RewriteGroup, dataFiles: readonly PlannedFile[], keptFiles: readonly PlannedFile[]): RewriteGroup {
  return { ...g, dataFiles, keptFiles, inputBytes: dataFiles.reduce((n, f) => n + f.file.fileSizeInBytes, 0), inputRows: dataFiles.reduce((n, f) => n + f.file.recordCount, 0) };
}

/**
 * The group with the partition's kept files whose key range holds one of its rows' keys (again
 * for the rows those bring): rewritten apart, the group's files would overlap them. With position
 * deletes naming their files, a group is the files that lost rows and the small ones, and a night's
 * replaced rows lie in the ranges of the files that lost them: in a table whose files are disjoint
 * nothing is added. Kept files without bounds stay kept.
 */
async function withOverlappedFiles(db: DuckDb, table: Table, g: RewriteGroup, key: RangeKey): Promise<RewriteGroup> {
  let group = g;
  for (;;) {
    const ranges = group.keptFiles.flatMap((f, i) => {
      const b = keyBounds(f.file, key);
      return b === undefined ? [] : [`(${i}, ${b.lo}::BIGINT, ${b.hi}::BIGINT)`];
    });
    if (ranges.length === 0) return group;
    const hit = await db.all<{ i: number }>(
      `SELECT DISTINCT k.i FROM (SELECT ${quoteIdent(key.name)} AS key FROM (${filesRelationSql(table, group.dataFiles, group.deleteFiles)})) r
       JOIN (VALUES ${ranges.join(', ')}) k(i, lo, hi) ON r.key BETWEEN k.lo AND k.hi`,
    );
    if (hit.length === 0) return group;
    const added = new Set(hit.map((h) => group.keptFiles[Number(h.i)]!));
    group = regrouped(group, [...group.dataFiles, ...added], group.keptFiles.filter((f) => !added.has(f)));
  }
}

/**
 * The group without its files that no delete applies to and that kept files' ranges separate from
 * every other file of it, again as each one left becomes kept: the fences leave such a file as it
 * was, so rewriting it (a short last pass, or a stretch small to begin with) would only write it
 * again, at every run. Undefined when too few files are left to be worth a rewrite.
 */
export function withoutLoneFiles(g: RewriteGroup, key: RangeKey, minInputFiles: number): RewriteGroup | undefined {
  let group = g;
  for (;;) {
    const fences = (keptKeyFences(group.keptFiles, key) ?? []).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const fenceIn = (a: bigint, b: bigint): boolean => anyInRange(fences, a + 1n, b);
    const ranges = new Map(group.dataFiles.map((f) => [f, keyBounds(f.file, key)]));
    const lone = new Set(
      group.dataFiles.filter((f) => {
        const range = ranges.get(f);
        // A file a kept file's range cuts into would be split by the rewrite's fences: not left as it was.
        if (range === undefined || fenceIn(range.lo, range.hi) || group.deleteFiles.some((d) => deleteApplies(d, f))) return false;
        return group.dataFiles.every((other) => {
          const r = ranges.get(other);
          if (other === f) return true;
          if (r === undefined) return false;
          return r.lo > range.hi ? fenceIn(range.hi, r.lo) : r.hi < range.lo ? fenceIn(r.hi, range.lo) : false;
        });
      }),
    );
    if (lone.size === 0) break;
    group = regrouped(group, group.dataFiles.filter((f) => !lone.has(f)), [...group.keptFiles, ...lone]);
  }
  if (group.dataFiles.length === 0 || (group.dataFiles.length < minInputFiles && group.deleteFiles.length < minInputFiles)) return undefined;
  return group;
}

/**
 * Where a sorted rewrite's files must end so as to keep out of the key ranges of the partition's
 * files it leaves as they are (each one's lower bound, and its upper bound plus one).
 */
function keptKeyFences(keptFiles: readonly PlannedFile[], key: RangeKey | undefined): bigint[] | undefined {
  if (key === undefined) return undefined;
  const fences = keptFiles.flatMap(({ file }) => {
    const b = keyBounds(file, key);
    return b === undefined ? [] : [b.lo, b.hi + 1n];
  });
  return fences.length === 0 ? undefined : fences;
}

/**
 * A group's rows in the table's sort order, a file per key range of about one target file (the
 * estimate scaled by the group's compression), which keeps each file, but a fenced stretch's last,
 * from being "small" again at the next run. DuckDB's sort holds large strings in memory, so a sort
 * holds at most an eighth of its limit: a file larger than that is sorted range by range. Each
 * file is also added to `sink` as soon as it is written.
 */
async function rewriteSorted(db: DuckDb, table: Table, g: RewriteGroup, relation: string, columns: readonly SortColumn[], sizeSql: string, o: MaintenanceOptions, sink: DataFile[]): Promise<{ files: DataFile[]; liveRows: bigint }> {
  const [stats] = await db.all<{ n: bigint; b: number | null }>(`SELECT count(*) AS n, sum(${sizeSql})::DOUBLE AS b FROM (${relation})`);
  const estimate = stats?.b ?? 0;
  const perFile = o.config.maintenance.targetFileSizeBytes * Math.max(1, estimate / Math.max(1, g.inputBytes));
  const keys = columns.map((c) => quoteIdent(c.name));
  const fences = keptKeyFences(g.keptFiles, rangeKey(table));
  const groups = columns.every((c) => c.rangeKey)
    ? await keyRangeGroups(db, { relation: `(${relation})`, keys, sizeSql, groupBytes: perFile, budgetBytes: (await db.memoryLimitBytes()) / 8, ...(fences === undefined ? {} : { fences }) })
    : [];
  const ranges = groups.flat();
  const rowGroupSize = rowGroupRows(estimate / Math.max(1, Number(stats?.n ?? 0)));
  const written: DataFile[] = [];
  let next = 0;
  for (let i = 0; i < Math.max(1, groups.length); i++) {
    // Half-open ranges: a sort order need not be unique, and no row may land in two of them.
    const selectSql = groups.length === 0 ? relation : groups[i]!.map(() => `SELECT * FROM (${relation}) WHERE ${inKeyRangeUpToNextSql(keys, ranges, next++)}`);
    const file = await writeSortedDataFile(db, table, { selectSql, partition: g.partition, rowGroupSize, nameSuffix: '-compact' });
    if (file !== undefined) written.push(file);
    // At once, so that a later pass that fails leaves no file of this one behind.
    if (file !== undefined) sink.push(file);
  }
  return { files: written, liveRows: BigInt(stats?.n ?? 0) };
}

/**
 * planCompaction, or why this table is not compacted: another engine's equality deletes, which
 * a rewrite would stop from applying. The rest of maintenance (the other tables, expiry, orphans) goes on.
 */
export function compactionGroups(plan: ScanPlan, o: CompactionOptions): RewriteGroup[] | { readonly skipped: string } {
  const refused = notCompactable(plan);
  return refused === undefined ? planCompaction(plan, o) : { skipped: refused.reason };
}

async function compact(id: string, table: Table, o: MaintenanceOptions): Promise<MaintenanceTableResult['compaction']> {
  const m = o.config.maintenance;
  const plan = await table.planFiles();
  const planned = compactionGroups(plan, { targetFileSizeBytes: m.targetFileSizeBytes, minInputFiles: m.compactMinInputFiles, specId: table.metadata.defaultSpecId });
  if ('skipped' in planned) {
    o.logger.warn({ table: table.location, err: planned.skipped }, `compaction skipped: ${planned.skipped}`);
    return { groups: 0, filesRewritten: 0, bytesRewritten: 0, filesWritten: 0, skipped: planned.skipped };
  }
  if (planned.length === 0) return { groups: 0, filesRewritten: 0, bytesRewritten: 0, filesWritten: 0 };
  const db = await openDuckDb(duckDbMemory(o.config));
  const columns = sortColumns(table);
  const written: DataFile[] = [];
  let base = { groups: planned.length, filesRewritten: 0, bytesRewritten: 0 };
  try {
    const key = rangeKey(table);
    const groups: RewriteGroup[] = [];
    for (const g of planned) {
      const grown = columns === undefined || key === undefined ? g : withoutLoneFiles(await withOverlappedFiles(db, table, g, key), key, m.compactMinInputFiles);
      if (grown !== undefined) groups.push(grown);
    }
    if (groups.length === 0) return { groups: 0, filesRewritten: 0, bytesRewritten: 0, filesWritten: 0 };
    base = { ...base, groups: groups.length, filesRewritten: groups.reduce((n, g) => n + g.dataFiles.length, 0), bytesRewritten: groups.reduce((n, g) => n + g.inputBytes, 0) };
    if (o.dryRun === true) return { ...base, filesWritten: 0 };
    for (const g of groups) {
      const relation = filesRelationSql(table, g.dataFiles, g.deleteFiles);
      let files: DataFile[];
      let liveRows: bigint;
      if (columns === undefined) {
        files = await writeDataFiles(db, table, { selectSql: relation, partition: g.partition, targetFileSizeBytes: m.targetFileSizeBytes });
        written.push(...files);
        liveRows = (await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM (${relation})`))[0]!.n;
      } else {
        ({ files, liveRows } = await rewriteSorted(db, table, g, relation, columns, rowBytesSql(id), o, written));
      }
      // The rewrite replaces the group's files: it must hold every live row of them, once.
      const rows = files.reduce((n, f) => n + f.recordCount, 0);
      if (BigInt(rows) !== liveRows) {
        const partition = partitionPath(table.spec(), table.schema(), g.partition);
        throw new JobError('INTERNAL', `compacting ${table.location} (partition ${partition}) wrote ${rows} rows for ${liveRows} live rows; nothing was committed`, {
          context: { table: table.location },
        });
      }
    }
    // Carry the job's bookkeeping forward, so expiring the snapshot that recorded it loses nothing.
    const carried = Object.fromEntries(CARRIED_PROPERTIES.flatMap((k) => {
      const v = table.summaryProperty(k)?.value;
      return v === undefined ? [] : [[k, v]];
    }));
    // A long rewrite may outlast the lease: the run that took it over maintains the tables.
    o.assertHeld?.();
    const result = await table.commit(compactionChange(plan, groups, written, { ...carried, 'mwlake.maintenance': 'compaction' }));
    return { ...base, filesWritten: written.length, snapshotId: result.snapshot.snapshotId.toString() };
  } catch (error) {
    // Files a commit of unknown outcome may reference stay; orphan removal takes them if not.
    if (!(error instanceof CommitStateUnknownError)) await discardWritten(table.storage, written.map((f) => f.filePath));
    if (error instanceof JobError && error.code === 'COMMIT_CONFLICT') {
      o.logger.warn({ table: table.location, err: error.message }, 'compaction lost to a concurrent commit; the next run retries');
      return { ...base, filesWritten: 0, skipped: error.message };
    }
    throw error;
  } finally {
    await db.close();
  }
}

/** Below this, orphan removal is safe only with no writer but this job's own runs (covered by tookOverFromMs). */
const ORPHAN_HOURS_SAFE = 24;

export async function runMaintenance(o: MaintenanceOptions): Promise<MaintenanceResult> {
  const started = Date.now();
  const now = o.nowMs ?? Date.now();
  const m = o.config.maintenance;
  if (m.removeOrphans && m.removeOrphansOlderThanHours < ORPHAN_HOURS_SAFE) {
    // Spark's remove_orphan_files refuses under 24 hours; the job's lease covers only its own runs.
    o.logger.warn(
      { removeOrphansOlderThanHours: m.removeOrphansOlderThanHours },
      `remove_orphans_older_than_hours is ${m.removeOrphansOlderThanHours}, below ${ORPHAN_HOURS_SAFE}: files another job or engine has written to these tables but not yet committed may be removed`,
    );
  }
  const names: [string, string][] = [
    [o.config.events.namespace, o.config.events.table],
    [o.config.events.namespace, o.config.events.visibilityTable],
    [STATE_NAMESPACE, REVISIONS_TABLE],
    [STATE_NAMESPACE, PAGES_TABLE],
  ];
  const loaded = new Map<string, Table>();
  for (const [ns, name] of names) {
    const t = await o.warehouse.tryLoadTable(ns, name);
    if (t !== undefined) loaded.set(`${ns}.${name}`, t);
  }
  const events = loaded.get(`${o.config.events.namespace}.${o.config.events.table}`);
  const visibilityEvents = loaded.get(`${o.config.events.namespace}.${o.config.events.visibilityTable}`);
  const states = [...loaded.entries()].filter(([k]) => k.startsWith(`${STATE_NAMESPACE}.`)).map(([, t]) => t);
  const revisions = loaded.get(`${STATE_NAMESPACE}.${REVISIONS_TABLE}`);
  const tables: MaintenanceTableResult[] = [];
  for (const [id, loadedTable] of loaded) {
    // A run that stalled past its lease stops here: the run that took it over maintains the tables.
    o.assertHeld?.();
    let table = loadedTable;
    const result: { -readonly [K in keyof MaintenanceTableResult]: MaintenanceTableResult[K] } = { table: id };
    if (m.compact) {
      result.compaction = await compact(id, table, o);
      table = await table.refresh();
    }
    if (m.expireSnapshots) {
      // One clock for every age: snapshots', and refs' max-ref-age-ms and max-snapshot-age-ms.
      const age = { olderThanMs: now - m.expireSnapshotsOlderThanDays * DAY_MS, retainLast: m.retainLastSnapshots, nowMs: now };
      const keep = [
        ...bookkeepingSnapshots(table),
        ...(loadedTable === events
          ? snapshotsStillToMerge(table, states, SOURCE_SNAPSHOT_PROPERTY)
          : loadedTable === visibilityEvents
            ? snapshotsStillToMerge(table, revisions === undefined ? [] : [revisions], VISIBILITY_SOURCE_SNAPSHOT_PROPERTY)
            : loadedTable === revisions
              ? revisionsPairedWithPages(table, loaded.get(`${STATE_NAMESPACE}.${PAGES_TABLE}`), age)
              : []),
      ];
      o.assertHeld?.();
      const r = await expireSnapshots(table, {
        ...age,
        keep,
        logger: o.logger,
        ...(o.dryRun === true ? { dryRun: true } : {}),
      });
      result.expiry = {
        snapshotsExpired: r.expiredSnapshotIds.length,
        refsExpired: r.expiredRefs,
        filesDeleted: r.deletedFiles.contentFiles + r.deletedFiles.manifests + r.deletedFiles.manifestLists + r.deletedFiles.statisticsFiles,
        ...(r.undeletedFiles.length > 0 ? { filesNotDeleted: r.undeletedFiles.length } : {}),
      };
      table = r.table;
    }
    if (m.removeOrphans) {
      // Its cutoff spares only the files of runs before the takeover this run knows of.
      o.assertHeld?.();
      const olderThanMs = Math.min(now - m.removeOrphansOlderThanHours * 3_600_000, o.tookOverFromMs ?? Infinity);
      const r = await removeOrphanFiles(table, { olderThanMs, logger: o.logger, ...(o.dryRun === true ? { dryRun: true } : {}) });
      result.orphans = {
        filesRemoved: r.orphans.length - r.undeleted.length,
        bytes: r.bytes,
        ...(r.undeleted.length > 0 ? { filesNotRemoved: r.undeleted.length } : {}),
        ...(r.emptyFolders > 0 ? { emptyFoldersRemoved: r.emptyFolders } : {}),
      };
    }
    tables.push(result);
  }
  const dumpRuns = await removeOldRuns(o.config, o.warehouse, { logger: o.logger, ...(o.assertHeld === undefined ? {} : { assertHeld: o.assertHeld }), ...(o.dryRun === true ? { dryRun: true } : {}) });
  return { tables, ...(dumpRuns === undefined ? {} : { dumpRuns }), durationMs: Date.now() - started };
}
