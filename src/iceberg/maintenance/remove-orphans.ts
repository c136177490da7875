// Orphan removal (Java's DeleteOrphanFiles): files under the table location that no snapshot and no
// logged metadata version references, such as the leftovers of crashed or lost commits. Only files
// older than a safety age go, so a commit in flight never loses the files it is about to publish.

import type { Logger } from '../../core/log.js';
import { deleteEach, joinLocation, localPathOf } from '../../core/storage.js';
import { statisticsPaths } from '../spec/table-metadata.js';
import type { Table } from '../table.js';
import { DATA_DIR, METADATA_DIR, VERSION_HINT, WRITE_FOLDER_NAME } from '../table-files.js';
import { reachableFiles } from './reachable-files.js';

export interface OrphanOptions {
  /** Only files last modified before this time are candidates. */
  readonly olderThanMs: number;
  readonly dryRun?: boolean;
  readonly logger?: Logger;
}

export interface OrphanResult {
  /** The orphans found (in a dry run, those that would go). */
  readonly orphans: string[];
  /** The bytes of those deleted (in a dry run, that would be). */
  readonly bytes: number;
  /** Orphans that could not be deleted (each logged); the next run tries them again. */
  readonly undeleted: string[];
  /** Empty write folders removed (writeFolderName: one per write, which deletes leave empty); in a dry run, that would be. */
  readonly emptyFolders: number;
}

/** Scheme-insensitive key, since other writers spell `file:///p` as `file:/p` or `/p`. */
function key(location: string): string {
  return localPathOf(location);
}

export async function removeOrphanFiles(table: Table, o: OrphanOptions): Promise<OrphanResult> {
  const fresh = await table.refresh();
  const m = fresh.metadata;
  const reach = await reachableFiles(fresh.storage, m.snapshots);
  const referenced = new Set<string>([
    ...reach.manifestLists,
    ...reach.manifests,
    ...reach.contentFiles,
    ...reach.removedFiles,
    fresh.metadataLocation,
    joinLocation(fresh.location, METADATA_DIR, VERSION_HINT),
    ...m.metadataLog.map((e) => e.metadataFile),
    ...statisticsPaths(m),
  ].filter((f) => f !== '').map(key));
  const sizes = new Map<string, number>();
  for await (const f of fresh.storage.list(fresh.location)) {
    if (f.modifiedMs >= o.olderThanMs || referenced.has(key(f.location))) continue;
    sizes.set(f.location, f.sizeBytes);
  }
  const orphans = [...sizes.keys()];
  // A commit may have landed while we listed: its files are new, hence too young to be candidates.
  // One refused file (permissions, a disk error) must not keep the others.
  const failed = o.dryRun === true ? [] : await deleteEach(fresh.storage, orphans);
  for (const f of failed) o.logger?.warn({ table: fresh.location, file: f.location, err: f.error }, 'orphan removal could not delete a file; the next run tries again');
  let bytes = 0;
  for (const size of sizes.values()) bytes += size;
  for (const f of failed) bytes -= sizes.get(f.location) ?? 0;
  // Only the folders of single writes, which no writer uses again (a partition's folder, removed
  // between a writer's mkdir and its file, would fail that write), once older than the safety age.
  const emptyFolders = await fresh.storage.removeEmptyFolders(joinLocation(fresh.location, DATA_DIR), o.olderThanMs, WRITE_FOLDER_NAME, o.dryRun === true);
  o.logger?.info({ table: fresh.location, orphans: orphans.length - failed.length, bytes, undeleted: failed.length, emptyFolders }, o.dryRun === true ? 'would remove orphan files' : 'removed orphan files');
  return { orphans, bytes, undeleted: failed.map((f) => f.location), emptyFolders };
}
