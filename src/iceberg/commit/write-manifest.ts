// Writes one manifest and describes it for the manifest list: entry counts, row counts and the
// partition field summaries that let scans skip whole manifests.

import type { Storage } from '../../core/storage.js';
import { CommitStateUnknownError, SpecViolationError, storageError } from '../../core/errors.js';
import { encodeManifest } from '../avro/manifest.js';
import { compareValues, decodeValue, encodeValue } from '../spec/bounds.js';
import { ManifestEntryStatus, type DataFile, type ManifestContent, type ManifestEntry } from '../spec/manifest.js';
import type { FieldSummary, ManifestFile } from '../spec/manifest-list.js';
import type { PartitionSpec, PartitionValue } from '../spec/partition.js';
import { partitionType } from '../spec/transform.js';
import { decimalParts, isPrimitive, type Schema } from '../spec/types.js';
import { manifestLocation } from '../table-files.js';

function partitionSummaries(spec: PartitionSpec, schema: Schema, files: readonly DataFile[]): FieldSummary[] {
  const type = partitionType(spec, schema);
  return type.fields.map((field, i) => {
    if (!isPrimitive(field.type)) throw new SpecViolationError(`partition field ${field.name} is not primitive`);
    const t = field.type;
    // Decimals order by value: their bytes' order puts negative values last.
    const comparable = decimalParts(t) === undefined ? (v: PartitionValue) => v : (v: PartitionValue) => (v instanceof Uint8Array ? decodeValue(t, v) : v);
    let lower: PartitionValue | undefined;
    let upper: PartitionValue | undefined;
    let containsNull = false;
    let containsNan = false;
    for (const f of files) {
      const raw = f.partition[i] ?? null;
      const v = raw === null ? null : comparable(raw);
      if (v === null) {
        containsNull = true;
        continue;
      }
      // Spec: NaN is never a bound; readers skip a manifest for isNaN when contains_nan is false.
      if (typeof v === 'number' && Number.isNaN(v)) {
        containsNan = true;
        continue;
      }
      if (lower === undefined || compareValues(v, lower) < 0) lower = v;
      if (upper === undefined || compareValues(v, upper) > 0) upper = v;
    }
    return {
      containsNull,
      ...(field.type === 'float' || field.type === 'double' ? { containsNan } : {}),
      ...(lower === undefined ? {} : { lowerBound: encodeValue(t, lower), upperBound: encodeValue(t, upper) }),
    };
  });
}

interface ManifestStats {
  added: number;
  existing: number;
  deleted: number;
  addedRows: number;
  existingRows: number;
  deletedRows: number;
}

/**
 * Creates a file no commit names yet (a manifest, a manifest list). Only a metadata file is a
 * commit point: a folder that cannot be synced after this file was created fails the write as
 * storage (69, 71, 77), with the file removed, not as a commit whose outcome is unknown (74).
 */
export async function writeUncommitted(storage: Storage, location: string, bytes: Uint8Array): Promise<void> {
  try {
    await storage.writeIfAbsent(location, bytes);
  } catch (error) {
    // Only a created file whose folder failed to sync: an EEXIST whose owner could not be checked stays unknown.
    if (!(error instanceof CommitStateUnknownError) || error.context['folderSync'] !== 'failed') throw error;
    await storage.delete(location).catch(() => undefined);
    throw storageError('creating', location, error.cause ?? error);
  }
}

export async function writeManifest(
  storage: Storage,
  o: { tableLocation: string; commitUuid: string; index: number; schema: Schema; spec: PartitionSpec; content: ManifestContent; entries: ManifestEntry[]; snapshotId: bigint; sequenceNumber: bigint; minSequenceNumber: bigint },
): Promise<ManifestFile> {
  const bytes = await encodeManifest({ schema: o.schema, spec: o.spec, content: o.content, entries: o.entries });
  const location = manifestLocation(o.tableLocation, o.commitUuid, o.index);
  await writeUncommitted(storage, location, bytes);
  const s: ManifestStats = { added: 0, existing: 0, deleted: 0, addedRows: 0, existingRows: 0, deletedRows: 0 };
  for (const e of o.entries) {
    const rows = e.dataFile.recordCount;
    if (e.status === ManifestEntryStatus.Added) (s.added++, (s.addedRows += rows));
    else if (e.status === ManifestEntryStatus.Existing) (s.existing++, (s.existingRows += rows));
    else (s.deleted++, (s.deletedRows += rows));
  }
  return {
    manifestPath: location,
    manifestLength: bytes.byteLength,
    partitionSpecId: o.spec.specId,
    content: o.content,
    sequenceNumber: o.sequenceNumber,
    minSequenceNumber: o.minSequenceNumber,
    addedSnapshotId: o.snapshotId,
    addedFilesCount: s.added,
    existingFilesCount: s.existing,
    deletedFilesCount: s.deleted,
    addedRowsCount: s.addedRows,
    existingRowsCount: s.existingRows,
    deletedRowsCount: s.deletedRows,
    partitions: partitionSummaries(o.spec, o.schema, o.entries.map((e) => e.dataFile)),
  };
}
