// Snapshot expiry (Java's ExpireSnapshots): drop refs older than their max-ref-age-ms, then
// snapshots older than a cutoff, except the last K of every branch, ref heads and snapshots a caller
// still needs, then delete the files only they used. The metadata commit comes first: a crash
// before the deletes leaves orphans, never a broken table.

import type { Logger } from '../../core/log.js';
import { deleteEach } from '../../core/storage.js';
import { MAIN_BRANCH, type Snapshot, type SnapshotRef } from '../spec/snapshot.js';
import { statisticsEntryFile, statisticsPaths, type TableMetadata } from '../spec/table-metadata.js';
import type { Table } from '../table.js';
import { reachableFiles } from './reachable-files.js';

export interface ExpireOptions {
  /** Snapshots at or after this time stay, unless a branch's own max-snapshot-age-ms says otherwise for its ancestors. */
  readonly olderThanMs: number;
  /** Ancestors of each branch head kept regardless of age (the head counts); at least 1. A branch's min-snapshots-to-keep overrides it. */
  readonly retainLast: number;
  /** The clock for refs' max-ref-age-ms and branches' max-snapshot-age-ms (default now). */
  readonly nowMs?: number;
  /** Snapshots that must survive, e.g. the source snapshot a downstream job reads from next. */
  readonly keep?: Iterable<bigint>;
  readonly dryRun?: boolean;
  readonly logger?: Logger;
}

export interface ExpireResult {
  readonly table: Table;
  readonly expiredSnapshotIds: bigint[];
  /** Names of the refs (tags, branches other than main) dropped for their max-ref-age-ms. */
  readonly expiredRefs: string[];
  readonly deletedFiles: { readonly manifestLists: number; readonly manifests: number; readonly contentFiles: number; readonly statisticsFiles: number };
  /** Files only the expired snapshots read that could not be deleted (each logged); a later expiry (while a retained snapshot still lists the file as removed) or orphan removal deletes them. */
  readonly undeletedFiles: string[];
}

/** Table property: the max-ref-age-ms of refs that set none (spec §Snapshot References). */
export const MAX_REF_AGE_PROPERTY = 'history.expire.max-ref-age-ms';

/**
 * The refs expiry keeps, as Java's RemoveSnapshots.computeRetainedRefs picks them: main always;
 * any other while its snapshot exists and is no older than its max-ref-age-ms, else the table's
 * history.expire.max-ref-age-ms, else forever.
 */
export function retainedRefs(m: TableMetadata, nowMs: number = Date.now()): Record<string, SnapshotRef> {
  const byId = new Map(m.snapshots.map((s) => [s.snapshotId, s]));
  const property = m.properties[MAX_REF_AGE_PROPERTY];
  const tableMaxAgeMs = property === undefined || !/^\d+$/.test(property) ? Infinity : Number(property);
  const out: Record<string, SnapshotRef> = {};
  for (const [name, ref] of Object.entries(m.refs)) {
    const snapshot = byId.get(ref.snapshotId);
    if (name === MAIN_BRANCH || (snapshot !== undefined && nowMs - snapshot.timestampMs <= (ref.maxRefAgeMs ?? tableMaxAgeMs))) out[name] = ref;
  }
  return out;
}

/**
 * The ids of snapshots expiry keeps, as Java's RemoveSnapshots picks them: every ref head; for each
 * branch its newest ancestors while fewer than its min-snapshots-to-keep (else `retainLast`) are
 * kept or while they are younger than its max-snapshot-age-ms (else `olderThanMs`); any other
 * snapshot younger than `olderThanMs`; and `keep`. Refs past their max-ref-age-ms protect nothing.
 */
export function retainedSnapshotIds(m: TableMetadata, o: Pick<ExpireOptions, 'olderThanMs' | 'retainLast' | 'keep' | 'nowMs'>): Set<bigint> {
  const byId = new Map(m.snapshots.map((s) => [s.snapshotId, s]));
  const keep = new Set<bigint>(o.keep ?? []);
  const onBranch = new Set<bigint>();
  if (m.currentSnapshotId !== undefined) keep.add(m.currentSnapshotId);
  for (const ref of Object.values(retainedRefs(m, o.nowMs))) {
    keep.add(ref.snapshotId);
    if (ref.type !== 'branch') continue;
    const minKeep = Math.max(1, ref.minSnapshotsToKeep ?? o.retainLast);
    const cutoff = ref.maxSnapshotAgeMs === undefined ? o.olderThanMs : (o.nowMs ?? Date.now()) - ref.maxSnapshotAgeMs;
    let kept = 0;
    for (let s: Snapshot | undefined = byId.get(ref.snapshotId); s !== undefined; s = s.parentSnapshotId === undefined ? undefined : byId.get(s.parentSnapshotId)) {
      onBranch.add(s.snapshotId);
      if (kept < minKeep || s.timestampMs >= cutoff) {
        keep.add(s.snapshotId);
        kept++;
      }
    }
  }
  // Snapshots on no branch (a rolled-back line) expire by the table-wide cutoff only.
  for (const s of m.snapshots) if (!onBranch.has(s.snapshotId) && s.timestampMs >= o.olderThanMs) keep.add(s.snapshotId);
  return new Set([...keep].filter((id) => byId.has(id)));
}

/**
 * The metadata without the other snapshots. The snapshot log loses every entry up to the last one
 * of a removed snapshot (spec: "all entries before a snapshot that has expired should be
 * removed"), so a time-travel read of that period fails instead of finding the wrong snapshot.
 */
function withoutSnapshots(m: TableMetadata, retained: ReadonlySet<bigint>, refs: Readonly<Record<string, SnapshotRef>>): TableMetadata {
  const lastRemoved = m.snapshotLog.findLastIndex((entry) => !retained.has(entry.snapshotId));
  // Statistics describe one snapshot: Java's expiry drops the entries of the snapshots it removes.
  const kept = new Set([...retained].map(String));
  const ofKept = (entries: readonly unknown[]) => entries.filter((e) => kept.has(statisticsEntryFile(e).snapshotId));
  const statistics = m.statistics === undefined ? {} : { statistics: ofKept(m.statistics) };
  const partitionStatistics = m.partitionStatistics === undefined ? {} : { partitionStatistics: ofKept(m.partitionStatistics) };
  return { ...m, refs, snapshots: m.snapshots.filter((s) => retained.has(s.snapshotId)), snapshotLog: m.snapshotLog.slice(lastRemoved + 1), ...statistics, ...partitionStatistics };
}

export async function expireSnapshots(table: Table, o: ExpireOptions): Promise<ExpireResult> {
  // One clock for the plan and every commit attempt, so they agree on which refs are too old.
  const opts = { ...o, nowMs: o.nowMs ?? Date.now() };
  const retained = retainedSnapshotIds(table.metadata, opts);
  const expired = table.metadata.snapshots.filter((s) => !retained.has(s.snapshotId));
  const keptRefs = retainedRefs(table.metadata, opts.nowMs);
  const expiredRefs = Object.keys(table.metadata.refs).filter((name) => keptRefs[name] === undefined);
  if (expired.length === 0 && expiredRefs.length === 0) return { table, expiredSnapshotIds: [], expiredRefs, deletedFiles: { manifestLists: 0, manifests: 0, contentFiles: 0, statisticsFiles: 0 }, undeletedFiles: [] };
  const expiredIds = new Set(expired.map((s) => s.snapshotId));
  const before = await reachableFiles(table.storage, expired);
  let next = table;
  if (o.dryRun !== true) {
    // Re-checked against each attempt's metadata: a concurrent commit or rollback may need one again.
    next = await table.updateMetadata((m) => {
      const needed = retainedSnapshotIds(m, opts);
      // Refs are judged again on each attempt (a concurrent commit may have moved one), by the same clock.
      const refs = retainedRefs(m, opts.nowMs);
      return withoutSnapshots(m, new Set(m.snapshots.map((s) => s.snapshotId).filter((id) => !expiredIds.has(id) || needed.has(id))), refs);
    });
  }
  const survivors = o.dryRun === true ? table.metadata.snapshots.filter((s) => retained.has(s.snapshotId)) : next.metadata.snapshots;
  const still = await reachableFiles(table.storage, survivors);
  const lists = [...before.manifestLists].filter((f) => !still.manifestLists.has(f));
  const manifests = [...before.manifests].filter((f) => !still.manifests.has(f));
  const content = [...before.contentFiles, ...before.removedFiles].filter((f) => !still.contentFiles.has(f));
  const after = o.dryRun === true ? withoutSnapshots(table.metadata, retained, keptRefs) : next.metadata;
  const statistics = [...statisticsPaths(table.metadata)].filter((f) => !statisticsPaths(after).has(f));
  // The commit stands: a file refused here (permissions, a disk error) must not keep the rest.
  const failed = o.dryRun === true ? [] : await deleteEach(table.storage, [...content, ...manifests, ...lists, ...statistics]);
  for (const f of failed) o.logger?.warn({ table: table.location, file: f.location, err: f.error }, 'expiry could not delete a file no retained snapshot reads; a later expiry or orphan removal deletes it');
  const undeleted = new Set(failed.map((f) => f.location));
  const deleted = (files: readonly string[]) => files.filter((f) => !undeleted.has(f)).length;
  o.logger?.info({ table: table.location, expired: expired.length, expiredRefs, deletedFiles: deleted(content), manifests: deleted(manifests), undeletedFiles: undeleted.size }, o.dryRun === true ? 'would expire snapshots' : 'expired snapshots');
  return {
    table: next,
    expiredRefs,
    expiredSnapshotIds: expired.filter((s) => o.dryRun === true || next.snapshot(s.snapshotId) === undefined).map((s) => s.snapshotId),
    deletedFiles: { manifestLists: deleted(lists), manifests: deleted(manifests), contentFiles: deleted(content), statisticsFiles: deleted(statistics) },
    undeletedFiles: [...undeleted],
  };
}
