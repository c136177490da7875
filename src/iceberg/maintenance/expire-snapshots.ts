// Snapshot expiry (Java's ExpireSnapshots): drop snapshots older than a cutoff, except the last K of
// every branch, ref heads and snapshots a caller still needs, then delete the files only they used.
// The metadata commit comes first: a crash before the deletes leaves orphans, never a broken table.

import type { Logger } from '../../core/log.js';
import type { Snapshot } from '../spec/snapshot.js';
import type { TableMetadata } from '../spec/table-metadata.js';
import type { Table } from '../table.js';
import { reachableFiles } from './reachable-files.js';

export interface ExpireOptions {
  /** Snapshots at or after this time stay. */
  readonly olderThanMs: number;
  /** Ancestors of each branch head kept regardless of age (the head counts); at least 1. */
  readonly retainLast: number;
  /** Snapshots that must survive, e.g. the source snapshot a downstream job reads from next. */
  readonly keep?: Iterable<bigint>;
  readonly dryRun?: boolean;
  readonly logger?: Logger;
}

export interface ExpireResult {
  readonly table: Table;
  readonly expiredSnapshotIds: bigint[];
  readonly deletedFiles: { readonly manifestLists: number; readonly manifests: number; readonly contentFiles: number };
}

/** The ids of snapshots expiry keeps. */
export function retainedSnapshotIds(m: TableMetadata, o: Pick<ExpireOptions, 'olderThanMs' | 'retainLast' | 'keep'>): Set<bigint> {
  const byId = new Map(m.snapshots.map((s) => [s.snapshotId, s]));
  const keep = new Set<bigint>(o.keep ?? []);
  if (m.currentSnapshotId !== undefined) keep.add(m.currentSnapshotId);
  for (const ref of Object.values(m.refs)) {
    keep.add(ref.snapshotId);
    if (ref.type !== 'branch') continue;
    let s: Snapshot | undefined = byId.get(ref.snapshotId);
    for (let n = 0; s !== undefined && n < Math.max(1, ref.minSnapshotsToKeep ?? o.retainLast); n++) {
      keep.add(s.snapshotId);
      s = s.parentSnapshotId === undefined ? undefined : byId.get(s.parentSnapshotId);
    }
  }
  for (const s of m.snapshots) if (s.timestampMs >= o.olderThanMs) keep.add(s.snapshotId);
  return new Set([...keep].filter((id) => byId.has(id)));
}

function withoutSnapshots(m: TableMetadata, retained: ReadonlySet<bigint>): TableMetadata {
  return {
    ...m,
    snapshots: m.snapshots.filter((s) => retained.has(s.snapshotId)),
    snapshotLog: m.snapshotLog.filter((e) => retained.has(e.snapshotId)),
  };
}

export async function expireSnapshots(table: Table, o: ExpireOptions): Promise<ExpireResult> {
  const retained = retainedSnapshotIds(table.metadata, o);
  const expired = table.metadata.snapshots.filter((s) => !retained.has(s.snapshotId));
  if (expired.length === 0) return { table, expiredSnapshotIds: [], deletedFiles: { manifestLists: 0, manifests: 0, contentFiles: 0 } };
  const expiredIds = new Set(expired.map((s) => s.snapshotId));
  const before = await reachableFiles(table.storage, expired);
  let next = table;
  if (o.dryRun !== true) {
    // Re-checked against each attempt's metadata: a concurrent commit or rollback may need one again.
    next = await table.updateMetadata((m) => {
      const needed = retainedSnapshotIds(m, o);
      return withoutSnapshots(m, new Set(m.snapshots.map((s) => s.snapshotId).filter((id) => !expiredIds.has(id) || needed.has(id))));
    });
  }
  const survivors = o.dryRun === true ? table.metadata.snapshots.filter((s) => retained.has(s.snapshotId)) : next.metadata.snapshots;
  const still = await reachableFiles(table.storage, survivors);
  const lists = [...before.manifestLists].filter((f) => !still.manifestLists.has(f));
  const manifests = [...before.manifests].filter((f) => !still.manifests.has(f));
  const content = [...before.contentFiles, ...before.removedFiles].filter((f) => !still.contentFiles.has(f));
  if (o.dryRun !== true) {
    for (const f of [...content, ...manifests, ...lists]) await table.storage.delete(f);
  }
  o.logger?.info({ table: table.location, expired: expired.length, deletedFiles: content.length, manifests: manifests.length }, o.dryRun === true ? 'would expire snapshots' : 'expired snapshots');
  return {
    table: next,
    expiredSnapshotIds: expired.filter((s) => o.dryRun === true || next.snapshot(s.snapshotId) === undefined).map((s) => s.snapshotId),
    deletedFiles: { manifestLists: lists.length, manifests: manifests.length, contentFiles: content.length },
  };
}
