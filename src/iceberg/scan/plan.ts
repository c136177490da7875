// Scan planning (spec §Scan Planning): the live data and delete files of a snapshot, with inherited
// snapshot ids and sequence numbers resolved from the manifest list. A position delete applies to
// data files of the same partition whose data sequence number is <= its own.

import type { Storage } from '../../core/storage.js';
import { ManifestContent, ManifestEntryStatus, type DataFile, type ManifestEntry } from '../spec/manifest.js';
import type { ManifestFile } from '../spec/manifest-list.js';
import type { PartitionTuple } from '../spec/partition.js';
import type { Snapshot } from '../spec/snapshot.js';
import { readManifest, readManifestList } from './manifest-cache.js';

export interface PlannedFile {
  readonly file: DataFile;
  readonly specId: number;
  readonly dataSequenceNumber: bigint;
}

export interface ScanPlan {
  readonly snapshot?: Snapshot;
  readonly dataFiles: PlannedFile[];
  readonly deleteFiles: PlannedFile[];
}

export type FileFilter = (file: DataFile, specId: number) => boolean;

/** An entry with its inherited values filled in from the manifest that lists it. */
export interface ResolvedEntry extends ManifestEntry {
  readonly snapshotId: bigint;
  readonly sequenceNumber: bigint;
  readonly fileSequenceNumber: bigint;
}

export async function readResolvedEntries(storage: Storage, manifest: ManifestFile): Promise<{ specId: number; entries: ResolvedEntry[] }> {
  const decoded = await readManifest(storage, manifest.manifestPath, manifest.manifestLength);
  const entries = decoded.entries.map(
    (e): ResolvedEntry => ({
      ...e,
      snapshotId: e.snapshotId ?? manifest.addedSnapshotId,
      sequenceNumber: e.sequenceNumber ?? manifest.sequenceNumber,
      fileSequenceNumber: e.fileSequenceNumber ?? manifest.sequenceNumber,
    }),
  );
  return { specId: manifest.partitionSpecId, entries };
}

export async function planSnapshot(storage: Storage, snapshot: Snapshot | undefined, filter?: FileFilter): Promise<ScanPlan> {
  if (snapshot === undefined) return { dataFiles: [], deleteFiles: [] };
  const manifests = await readManifestList(storage, snapshot.manifestList);
  const dataFiles: PlannedFile[] = [];
  const deleteFiles: PlannedFile[] = [];
  const decoded = await Promise.all(manifests.map(async (m) => ({ m, ...(await readResolvedEntries(storage, m)) })));
  for (const { m, specId, entries } of decoded) {
    const into = m.content === ManifestContent.Data ? dataFiles : deleteFiles;
    for (const e of entries) {
      if (e.status === ManifestEntryStatus.Deleted) continue;
      if (m.content === ManifestContent.Data && filter !== undefined && !filter(e.dataFile, specId)) continue;
      into.push({ file: e.dataFile, specId, dataSequenceNumber: e.sequenceNumber });
    }
  }
  return { snapshot, dataFiles, deleteFiles: relevantDeletes(dataFiles, deleteFiles) };
}

/** A partition tuple as a string, to compare and group by. */
export function partitionKey(p: PartitionTuple): string {
  return JSON.stringify(p, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
    // JSON writes NaN as null and -0 as 0: distinct partition values that must not share a key.
    if (Number.isNaN(v)) return 'NaN';
    if (Object.is(v, -0)) return '-0';
    return v;
  });
}

/** Whether a position delete file applies to a data file: same spec and partition, not older, and naming it if it names one. */
export function deleteApplies(del: PlannedFile, data: PlannedFile): boolean {
  if (del.specId !== data.specId || partitionKey(del.file.partition) !== partitionKey(data.file.partition)) return false;
  if (del.dataSequenceNumber < data.dataSequenceNumber) return false;
  return del.file.referencedDataFile === undefined || del.file.referencedDataFile === data.file.filePath;
}

/** Delete files that can touch at least one planned data file. */
function relevantDeletes(data: readonly PlannedFile[], deletes: readonly PlannedFile[]): PlannedFile[] {
  if (deletes.length === 0) return [];
  const paths = new Set(data.map((d) => d.file.filePath));
  const minSeq = data.reduce((min, d) => (d.dataSequenceNumber < min ? d.dataSequenceNumber : min), BigInt(Number.MAX_SAFE_INTEGER));
  return deletes.filter((d) => d.dataSequenceNumber >= minSeq && (d.file.referencedDataFile === undefined || paths.has(d.file.referencedDataFile)));
}
