// The files a set of snapshots needs: their manifest lists, the manifests those list, and the data
// and delete files live in them. Expiry deletes what only expired snapshots needed; orphan removal
// deletes what no snapshot and no metadata version needs.

import type { Storage } from '../../core/storage.js';
import { ManifestEntryStatus } from '../spec/manifest.js';
import type { Snapshot } from '../spec/snapshot.js';
import { readManifest, readManifestList } from '../scan/manifest-cache.js';

export interface ReachableFiles {
  readonly manifestLists: Set<string>;
  readonly manifests: Set<string>;
  /** Data and delete files that are live (ADDED or EXISTING) in some manifest. */
  readonly contentFiles: Set<string>;
  /** Files that appear only as DELETED entries: removed by some snapshot of the set. */
  readonly removedFiles: Set<string>;
}

export async function reachableFiles(storage: Storage, snapshots: Iterable<Snapshot>): Promise<ReachableFiles> {
  const out: ReachableFiles = { manifestLists: new Set(), manifests: new Set(), contentFiles: new Set(), removedFiles: new Set() };
  for (const s of snapshots) {
    out.manifestLists.add(s.manifestList);
    for (const m of await readManifestList(storage, s.manifestList)) {
      if (out.manifests.has(m.manifestPath)) continue;
      out.manifests.add(m.manifestPath);
      for (const e of (await readManifest(storage, m.manifestPath, m.manifestLength)).entries) {
        if (e.status === ManifestEntryStatus.Deleted) out.removedFiles.add(e.dataFile.filePath);
        else out.contentFiles.add(e.dataFile.filePath);
      }
    }
  }
  for (const f of out.contentFiles) out.removedFiles.delete(f);
  return out;
}
