// Manifest merging at commit, as Java's MergingSnapshotProducer does: without it every append adds a
// manifest and a scan after 1,000 appends reads 1,000 files. When a (content, spec) group reaches
// `commit.manifest.min-count-to-merge` manifests, small ones are packed into target-size manifests.

import type { Storage } from '../../core/storage.js';
import { ManifestEntryStatus, type ManifestEntry } from '../spec/manifest.js';
import type { ManifestFile } from '../spec/manifest-list.js';
import type { PartitionSpec } from '../spec/partition.js';
import { intProperty, type TableMetadata } from '../spec/table-metadata.js';
import type { Schema } from '../spec/types.js';
import { readResolvedEntries } from '../scan/plan.js';
import { writeManifest } from './write-manifest.js';

/** Table properties, with Java's names and defaults. */
export const MANIFEST_MERGE_ENABLED = 'commit.manifest-merge.enabled';
export const MANIFEST_MIN_MERGE_COUNT = 'commit.manifest.min-count-to-merge';
export const MANIFEST_TARGET_SIZE = 'commit.manifest.target-size-bytes';

export interface MergePolicy {
  readonly enabled: boolean;
  readonly minCountToMerge: number;
  readonly targetSizeBytes: number;
}

export function mergePolicy(metadata: TableMetadata): MergePolicy {
  return {
    enabled: (metadata.properties[MANIFEST_MERGE_ENABLED] ?? 'true').toLowerCase() !== 'false',
    minCountToMerge: intProperty(metadata, MANIFEST_MIN_MERGE_COUNT, 100),
    targetSizeBytes: intProperty(metadata, MANIFEST_TARGET_SIZE, 8 * 1024 * 1024),
  };
}

/** Packs manifests in order into bins of at most `target` bytes (a lone large manifest is its own bin). */
function pack(manifests: readonly ManifestFile[], target: number): ManifestFile[][] {
  const bins: ManifestFile[][] = [];
  let bin: ManifestFile[] = [];
  let size = 0;
  for (const m of manifests) {
    if (bin.length > 0 && size + m.manifestLength > target) {
      bins.push(bin);
      (bin = []), (size = 0);
    }
    bin.push(m);
    size += m.manifestLength;
  }
  if (bin.length > 0) bins.push(bin);
  return bins;
}

export interface MergeContext {
  readonly tableLocation: string;
  readonly schema: Schema;
  readonly specOf: (specId: number) => PartitionSpec;
  readonly snapshotId: bigint;
  readonly sequenceNumber: bigint;
  readonly commitUuid: string;
  /** The next free manifest index for this commit attempt's file names. */
  nextIndex: number;
}

/**
 * Returns `existing` with small manifests merged. `addedCount` is the number of manifests this
 * commit adds per `${content}:${specId}` group; they count toward the threshold but stay as written,
 * so a retry can reuse them. Written manifests are appended to `written`.
 */
export async function mergeSmallManifests(
  storage: Storage,
  existing: readonly ManifestFile[],
  addedCount: ReadonlyMap<string, number>,
  policy: MergePolicy,
  ctx: MergeContext,
  written: string[],
): Promise<ManifestFile[]> {
  if (!policy.enabled) return [...existing];
  const groups = new Map<string, ManifestFile[]>();
  for (const m of existing) {
    const key = `${m.content}:${m.partitionSpecId}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  const out: ManifestFile[] = [];
  for (const [key, manifests] of groups) {
    if (manifests.length + (addedCount.get(key) ?? 0) < policy.minCountToMerge) {
      out.push(...manifests);
      continue;
    }
    for (const bin of pack(manifests, policy.targetSizeBytes)) {
      if (bin.length === 1) {
        out.push(...bin);
        continue;
      }
      const merged = await mergeBin(storage, bin, ctx);
      if (merged === undefined) continue;
      written.push(merged.manifestPath);
      out.push(merged);
    }
  }
  return out;
}

async function mergeBin(storage: Storage, bin: readonly ManifestFile[], ctx: MergeContext): Promise<ManifestFile | undefined> {
  const first = bin[0]!;
  const entries: ManifestEntry[] = [];
  let minSeq = ctx.sequenceNumber;
  for (const m of bin) {
    for (const e of (await readResolvedEntries(storage, m)).entries) {
      // Deletions recorded by earlier snapshots are history; only this commit's own stay visible.
      if (e.status === ManifestEntryStatus.Deleted) {
        if (e.snapshotId === ctx.snapshotId) entries.push(e);
        continue;
      }
      if (e.sequenceNumber < minSeq) minSeq = e.sequenceNumber;
      entries.push({ status: ManifestEntryStatus.Existing, snapshotId: e.snapshotId, sequenceNumber: e.sequenceNumber, fileSequenceNumber: e.fileSequenceNumber, dataFile: e.dataFile });
    }
  }
  if (entries.length === 0) return undefined;
  return writeManifest(storage, {
    tableLocation: ctx.tableLocation,
    commitUuid: ctx.commitUuid,
    index: ctx.nextIndex++,
    schema: ctx.schema,
    spec: ctx.specOf(first.partitionSpecId),
    content: first.content,
    entries,
    snapshotId: ctx.snapshotId,
    sequenceNumber: ctx.sequenceNumber,
    minSequenceNumber: minSeq,
  });
}
