// Compaction planning (Java's RewriteDataFiles, bin-pack strategy): per partition of the default
// spec, the small files and the files position deletes apply to, when there are enough of them to
// be worth a rewrite. The rewrite itself is the caller's (it needs a Parquet writer); committing it
// as a `replace` snapshot that requires the planned snapshot keeps a concurrent delete from being lost.

import { JobError } from '../../core/errors.js';
import type { PartitionTuple } from '../spec/partition.js';
import { deleteApplies, partitionKey, type PlannedFile, type ScanPlan } from '../scan/plan.js';
import type { TableChange } from '../commit/table-change.js';
import { DataFileContent, type DataFile } from '../spec/manifest.js';

export interface CompactionOptions {
  readonly targetFileSizeBytes: number;
  /** A partition is rewritten when it has at least this many candidate files, or delete files applying to them (Java's min-input-files). */
  readonly minInputFiles: number;
  readonly specId: number;
}

export interface RewriteGroup {
  readonly partition: PartitionTuple;
  readonly dataFiles: readonly PlannedFile[];
  /** Delete files that may apply to the group's data files. */
  readonly deleteFiles: readonly PlannedFile[];
  /** Delete files that no data file outside the group can be affected by: removed with the group. */
  readonly deadDeleteFiles: readonly string[];
  /** The partition's other data files, left as they are: a sorted rewrite keeps out of their key ranges. */
  readonly keptFiles: readonly PlannedFile[];
  readonly inputBytes: number;
  readonly inputRows: number;
}

/**
 * Why the plan's table cannot be compacted, if it cannot: equality deletes (another engine's)
 * apply by sequence number, from an unpartitioned spec to every partition, so rewritten rows get a
 * newer one and the rows those deletes removed come back.
 */
export function notCompactable(plan: ScanPlan): { readonly reason: string; readonly deleteFile: string } | undefined {
  const equality = plan.deleteFiles.find((d) => d.file.content !== DataFileContent.PositionDeletes);
  if (equality === undefined) return undefined;
  const deleteFile = equality.file.filePath;
  return { deleteFile, reason: `cannot compact: the table has an equality delete file (${deleteFile}), which a rewrite would stop from applying; compaction rewrites data files with position deletes only` };
}

export function planCompaction(plan: ScanPlan, o: CompactionOptions): RewriteGroup[] {
  const refused = notCompactable(plan);
  if (refused !== undefined) throw new JobError('DATA', refused.reason, { context: { deleteFile: refused.deleteFile } });
  const small = o.targetFileSizeBytes * 0.75;
  const byPartition = new Map<string, PlannedFile[]>();
  for (const f of plan.dataFiles) {
    if (f.specId !== o.specId) continue;
    const k = partitionKey(f.file.partition);
    byPartition.set(k, [...(byPartition.get(k) ?? []), f]);
  }
  const groups: RewriteGroup[] = [];
  for (const files of byPartition.values()) {
    const deletesOf = new Map(files.map((f) => [f, plan.deleteFiles.filter((d) => deleteApplies(d, f))]));
    const candidates = files.filter((f) => f.file.fileSizeInBytes < small || (deletesOf.get(f)?.length ?? 0) > 0);
    const deleteFiles = [...new Set(candidates.flatMap((f) => deletesOf.get(f) ?? []))];
    if (candidates.length < o.minInputFiles && deleteFiles.length < o.minInputFiles) continue;
    if (candidates.length === 0) continue;
    const others = files.filter((f) => !candidates.includes(f));
    const dead = deleteFiles.filter((d) => !others.some((f) => deleteApplies(d, f))).map((d) => d.file.filePath);
    groups.push({
      partition: candidates[0]!.file.partition,
      dataFiles: candidates,
      deleteFiles,
      deadDeleteFiles: dead,
      keptFiles: others,
      inputBytes: candidates.reduce((n, f) => n + f.file.fileSizeInBytes, 0),
      inputRows: candidates.reduce((n, f) => n + f.file.recordCount, 0),
    });
  }
  return groups;
}

/** The `replace` change of rewritten groups, valid only on the snapshot they were planned from. */
export function compactionChange(plan: ScanPlan, groups: readonly RewriteGroup[], rewritten: readonly DataFile[], summary: Record<string, string> = {}): TableChange {
  return {
    operation: 'replace',
    addDataFiles: rewritten,
    removeDataFiles: groups.flatMap((g) => g.dataFiles.map((f) => f.file.filePath)),
    removeDeleteFiles: [...new Set(groups.flatMap((g) => g.deadDeleteFiles))],
    requireCurrentSnapshotId: plan.snapshot?.snapshotId ?? null,
    summary,
  };
}
