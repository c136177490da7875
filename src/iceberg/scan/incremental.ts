// Incremental scan planning (Java's IncrementalAppendScan, plus the deletes): the files the
// snapshots of a range added. `replace` snapshots (compaction) change no rows and are skipped.

import type { Storage } from '../../core/storage.js';
import { ManifestContent, ManifestEntryStatus } from '../spec/manifest.js';
import type { Snapshot } from '../spec/snapshot.js';
import { readManifestList } from './manifest-cache.js';
import { deleteApplies, readResolvedEntries, type PlannedFile } from './plan.js';

export interface IncrementalPlan {
  /** Data files the range's appends and overwrites added. */
  readonly dataFiles: PlannedFile[];
  /**
   * Position delete files the range added (replacing rows): those that apply to `dataFiles` hide
   * rows of them; the others, rows of older files, or of files a compaction in the range wrote
   * from `dataFiles` (skipped here), whose rows `dataFiles` then still hold: a reader must treat
   * the rows those deletes name as replaced wherever it finds them (the merge refolds them).
   */
  readonly deleteFiles: PlannedFile[];
}

/** The files `snapshots` (a range of one history, oldest first) added. */
export async function planIncremental(storage: Storage, snapshots: readonly Snapshot[]): Promise<IncrementalPlan> {
  const dataFiles: PlannedFile[] = [];
  const deleteFiles: PlannedFile[] = [];
  for (const s of snapshots) {
    if (s.summary.operation === 'replace') continue;
    for (const m of await readManifestList(storage, s.manifestList)) {
      if (m.addedSnapshotId !== s.snapshotId) continue;
      const into = m.content === ManifestContent.Data ? dataFiles : deleteFiles;
      const { specId, entries } = await readResolvedEntries(storage, m);
      for (const e of entries) {
        if (e.status === ManifestEntryStatus.Added && e.snapshotId === s.snapshotId) into.push({ file: e.dataFile, specId, dataSequenceNumber: e.sequenceNumber });
      }
    }
  }
  return { dataFiles, deleteFiles };
}

/** The delete files of `deletes` that apply to at least one of `data`. */
export function deletesApplyingTo(deletes: readonly PlannedFile[], data: readonly PlannedFile[]): PlannedFile[] {
  return deletes.filter((d) => data.some((f) => deleteApplies(d, f)));
}
