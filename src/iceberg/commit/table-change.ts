// One table operation = one snapshot (spec §Snapshots): appends, overwrites, file deletes and
// position-delete row-level changes. New manifests are written once and reused on retry (their
// entries inherit sequence numbers); only manifests that lose files and the list are rewritten.

import { randomUUID } from 'node:crypto';
import { CommitConflictError, SpecViolationError } from '../../core/errors.js';
import { discardWritten, type Storage } from '../../core/storage.js';
import { encodeManifestList } from '../avro/manifest-list.js';
import { DataFileContent, ManifestContent, ManifestEntryStatus, type DataFile, type ManifestEntry } from '../spec/manifest.js';
import type { ManifestFile } from '../spec/manifest-list.js';
import type { PartitionSpec } from '../spec/partition.js';
import { MAIN_BRANCH, withBranchAt, type Operation, type Snapshot } from '../spec/snapshot.js';
import type { TableMetadata } from '../spec/table-metadata.js';
import type { Schema } from '../spec/types.js';
import { readManifestList } from '../scan/manifest-cache.js';
import { deleteApplies, readResolvedEntries, type PlannedFile, type ResolvedEntry } from '../scan/plan.js';
import { manifestListLocation, newSnapshotId } from '../table-files.js';
import { mergePolicy, mergeSmallManifests } from './merge-manifests.js';
import { writeManifest, writeUncommitted } from './write-manifest.js';
import { summaryMetrics } from './summary.js';

export interface TableChange {
  /** Inferred when absent: append, overwrite, or delete. `replace` marks compaction (data unchanged). */
  readonly operation?: Operation;
  readonly addDataFiles?: readonly DataFile[];
  /** Position delete files (content 1), merge-on-read; one naming a data file that is no longer live conflicts. */
  readonly addDeleteFiles?: readonly DataFile[];
  /**
   * Every data file the added deletes apply to, for those over several files (no
   * referencedDataFile): checked live at each attempt, as Java's RowDelta validateDataFilesExist.
   * Without it, only requireCurrentSnapshotId keeps such deletes from a file rewritten meanwhile.
   */
  readonly referencedDataFiles?: readonly string[];
  /**
   * Paths of live data files to remove; delete files that reference only them go too. With
   * addDataFiles (a rewrite), deletes committed since the change began that apply to them conflict.
   */
  readonly removeDataFiles?: readonly string[];
  /** Paths of live delete files to remove (compaction folds them into rewritten data files). */
  readonly removeDeleteFiles?: readonly string[];
  /** Caller properties stored in the snapshot summary (Kafka offsets, source snapshot ids). */
  readonly summary?: Readonly<Record<string, string>>;
  /** Optimistic requirement: the current snapshot must still be this one (null: the table is empty). */
  readonly requireCurrentSnapshotId?: bigint | null;
  /** Runs against the fresh metadata of every attempt; throw to abort. */
  readonly validate?: (current: TableMetadata) => void;
}

export interface PreparedManifests {
  readonly files: ManifestFile[];
  readonly written: string[];
}

function inferOperation(c: TableChange): Operation {
  if (c.operation !== undefined) return c.operation;
  const adds = (c.addDataFiles?.length ?? 0) > 0;
  const removes = (c.removeDataFiles?.length ?? 0) > 0;
  const deletes = (c.addDeleteFiles?.length ?? 0) > 0 || (c.removeDeleteFiles?.length ?? 0) > 0;
  if (adds && !removes && !deletes) return 'append';
  if (!adds && (removes || deletes)) return 'delete';
  return 'overwrite';
}

function currentSchema(m: TableMetadata): Schema {
  const s = m.schemas.find((x) => x.schemaId === m.currentSchemaId);
  if (s === undefined) throw new SpecViolationError(`table ${m.location} has no schema ${m.currentSchemaId}`);
  return s;
}

function specOf(m: TableMetadata, specId: number): PartitionSpec {
  const s = m.partitionSpecs.find((x) => x.specId === specId);
  if (s === undefined) throw new SpecViolationError(`table ${m.location} has no partition spec ${specId}`);
  return s;
}

export interface ChangeAttempt {
  readonly metadata: TableMetadata;
  readonly snapshot: Snapshot;
  /** Every file this attempt wrote (cleaned up if the attempt loses). */
  readonly written: string[];
}

/**
 * Builds the next metadata for `change` on top of `base`. `added` holds the manifests of new files,
 * written once per commit with inherited sequence numbers, so a retry can reuse them.
 */
export interface AttemptOptions {
  readonly snapshotId: bigint;
  readonly commitUuid: string;
  readonly attempt: number;
  readonly added: PreparedManifests;
  readonly nowMs: number;
  /** Sequence number of the snapshot the change was made against: later delete files are a concurrent writer's. */
  readonly startSequenceNumber?: bigint;
}

export async function applyChange(storage: Storage, base: TableMetadata, change: TableChange, o: AttemptOptions): Promise<ChangeAttempt> {
  const written: string[] = [];
  try {
    return await attemptChange(storage, base, change, o, written);
  } catch (error) {
    // A conflict or a failed write: nothing references this attempt's manifests.
    await discardWritten(storage, written);
    throw error;
  }
}

/** `manifest` with its file and row counts taken from its entries (a v1 list left them out). */
export function withCounts(manifest: ManifestFile, entries: readonly ManifestEntry[]): ManifestFile {
  const of = (status: ManifestEntryStatus) => entries.filter((e) => e.status === status);
  const rows = (es: readonly ManifestEntry[]) => es.reduce((n, e) => n + e.dataFile.recordCount, 0);
  const [added, existing, deleted] = [of(ManifestEntryStatus.Added), of(ManifestEntryStatus.Existing), of(ManifestEntryStatus.Deleted)];
  const { countsUnknown: _, ...rest } = manifest;
  return { ...rest, addedFilesCount: added.length, existingFilesCount: existing.length, deletedFilesCount: deleted.length, addedRowsCount: rows(added), existingRowsCount: rows(existing), deletedRowsCount: rows(deleted) };
}

async function attemptChange(storage: Storage, base: TableMetadata, change: TableChange, o: AttemptOptions, written: string[]): Promise<ChangeAttempt> {
  const current = base.currentSnapshotId === undefined ? undefined : base.snapshots.find((s) => s.snapshotId === base.currentSnapshotId);
  if (change.requireCurrentSnapshotId !== undefined && (change.requireCurrentSnapshotId ?? undefined) !== base.currentSnapshotId) {
    throw new CommitConflictError(
      `table ${base.location} moved on: expected current snapshot ${change.requireCurrentSnapshotId ?? 'none'}, found ${base.currentSnapshotId ?? 'none'}: ` +
        'another writer committed to it since this change was planned (find what else writes to the table: another job or process on the same warehouse)',
      { context: { table: base.location } },
    );
  }
  change.validate?.(base);
  const sequenceNumber = base.lastSequenceNumber + 1n;
  const schema = currentSchema(base);

  const removeData = new Set(change.removeDataFiles ?? []);
  const removeDeletes = new Set(change.removeDeleteFiles ?? []);
  const removedData: DataFile[] = [];
  const removedDeletes: DataFile[] = [];
  const kept: ManifestFile[] = [];
  let index = o.added.files.length;
  // Conflicts with concurrent commits (Java's RowDelta and RewriteFiles validations): deletes for a
  // data file that is gone, and a rewrite of data files that deletes added since the start apply to.
  const referenced = new Set([...(change.addDeleteFiles ?? []).flatMap((f) => (f.referencedDataFile === undefined ? [] : [f.referencedDataFile])), ...(change.referencedDataFiles ?? [])]);
  const liveReferenced = new Set((change.addDataFiles ?? []).map((f) => f.filePath));
  const rewrites = removeData.size > 0 && (change.addDataFiles?.length ?? 0) > 0;
  const startSequenceNumber = o.startSequenceNumber ?? current?.sequenceNumber ?? 0n;
  const rewrittenData: PlannedFile[] = [];
  const newDeletes: PlannedFile[] = [];
  const existing = current === undefined ? [] : await readManifestList(storage, current.manifestList);
  for (const manifest of existing) {
    const isData = manifest.content === ManifestContent.Data;
    const { entries } = await readResolvedEntries(storage, manifest);
    const live = entries.filter((e) => e.status !== ManifestEntryStatus.Deleted);
    const drops = (e: ResolvedEntry) =>
      isData ? removeData.has(e.dataFile.filePath) : removeDeletes.has(e.dataFile.filePath) || (e.dataFile.referencedDataFile !== undefined && removeData.has(e.dataFile.referencedDataFile));
    const dropped = live.filter(drops);
    const planned = (e: ResolvedEntry): PlannedFile => ({ file: e.dataFile, specId: manifest.partitionSpecId, dataSequenceNumber: e.sequenceNumber });
    if (isData) {
      for (const e of live) if (referenced.has(e.dataFile.filePath)) liveReferenced.add(e.dataFile.filePath);
      if (rewrites) rewrittenData.push(...dropped.map(planned));
    } else if (rewrites) {
      newDeletes.push(...live.filter((e) => e.sequenceNumber > startSequenceNumber).map(planned));
    }
    if (dropped.length === 0 && live.length === entries.length) {
      kept.push(manifest.countsUnknown === true ? withCounts(manifest, entries) : manifest);
      continue;
    }
    (isData ? removedData : removedDeletes).push(...dropped.map((e) => e.dataFile));
    const survivors = live.filter((e) => !drops(e));
    // Rewrite: survivors stay EXISTING with explicit sequence numbers, dropped ones become DELETED.
    const rewritten: ManifestEntry[] = [
      ...survivors.map((e) => ({ status: ManifestEntryStatus.Existing, snapshotId: e.snapshotId, sequenceNumber: e.sequenceNumber, fileSequenceNumber: e.fileSequenceNumber, dataFile: e.dataFile })),
      ...dropped.map((e) => ({ status: ManifestEntryStatus.Deleted, snapshotId: o.snapshotId, sequenceNumber: e.sequenceNumber, fileSequenceNumber: e.fileSequenceNumber, dataFile: e.dataFile })),
    ];
    if (survivors.length === 0 && dropped.length === 0) continue;
    const minSeq = survivors.reduce((m, e) => (e.sequenceNumber < m ? e.sequenceNumber : m), sequenceNumber);
    const file = await writeManifest(storage, {
      tableLocation: base.location,
      commitUuid: `${o.commitUuid}-a${o.attempt}`,
      index: index++,
      schema,
      spec: specOf(base, manifest.partitionSpecId),
      content: manifest.content,
      entries: rewritten,
      snapshotId: o.snapshotId,
      sequenceNumber,
      minSequenceNumber: minSeq,
    });
    written.push(file.manifestPath);
    kept.push(file);
  }
  const missing = [...removeData].filter((p) => !removedData.some((f) => f.filePath === p));
  const missingDeletes = [...removeDeletes].filter((p) => !removedDeletes.some((f) => f.filePath === p));
  if (missing.length > 0 || missingDeletes.length > 0) {
    throw new CommitConflictError(`cannot remove files that are no longer live in ${base.location}: ${[...missing, ...missingDeletes].slice(0, 5).join(', ')}`, {
      context: { table: base.location, missing: missing.length + missingDeletes.length },
    });
  }
  const gone = [...referenced].filter((p) => !liveReferenced.has(p));
  if (gone.length > 0) {
    throw new CommitConflictError(`cannot add position deletes for data files that are no longer live in ${base.location} (a concurrent commit removed or rewrote them): ${gone.slice(0, 5).join(', ')}`, {
      context: { table: base.location, missing: gone.length },
    });
  }
  const undone = newDeletes.filter((d) => rewrittenData.some((f) => deleteApplies(d, f)));
  if (undone.length > 0) {
    throw new CommitConflictError(
      `cannot rewrite data files of ${base.location} that deletes committed since this change began apply to (the rewrite would bring their rows back): ${undone.slice(0, 5).map((d) => d.file.filePath).join(', ')}`,
      { context: { table: base.location, deleteFiles: undone.length } },
    );
  }

  const added = o.added.files.map((m) => ({ ...m, sequenceNumber, minSequenceNumber: sequenceNumber }));
  const addedCount = new Map<string, number>();
  for (const m of added) addedCount.set(`${m.content}:${m.partitionSpecId}`, (addedCount.get(`${m.content}:${m.partitionSpecId}`) ?? 0) + 1);
  const manifests = await mergeSmallManifests(
    storage,
    kept,
    addedCount,
    mergePolicy(base),
    { tableLocation: base.location, schema, specOf: (id) => specOf(base, id), snapshotId: o.snapshotId, sequenceNumber, commitUuid: `${o.commitUuid}-a${o.attempt}`, nextIndex: index },
    written,
  );
  // A manifest rewritten above and then merged is in no list: removed now, not left to orphan removal.
  const listed = new Set([...added, ...manifests].map((m) => m.manifestPath));
  for (const path of written.filter((p) => !listed.has(p))) {
    await storage.delete(path);
    written.splice(written.indexOf(path), 1);
  }
  const listLocation = manifestListLocation(base.location, o.snapshotId, o.attempt, o.commitUuid);
  const list = await encodeManifestList([...added, ...manifests], { snapshotId: o.snapshotId, parentSnapshotId: current?.snapshotId, sequenceNumber });
  await writeUncommitted(storage, listLocation, list);
  written.push(listLocation);

  const properties = {
    ...summaryMetrics(
      {
        addedData: change.addDataFiles ?? [],
        removedData,
        addedDeletes: change.addDeleteFiles ?? [],
        removedDeletes,
      },
      current,
    ),
    ...(change.summary ?? {}),
  };
  const snapshot: Snapshot = {
    snapshotId: o.snapshotId,
    ...(current === undefined ? {} : { parentSnapshotId: current.snapshotId }),
    sequenceNumber,
    timestampMs: Math.max(o.nowMs, base.lastUpdatedMs),
    manifestList: listLocation,
    summary: { operation: inferOperation(change), properties },
    schemaId: schema.schemaId,
  };
  const metadata: TableMetadata = {
    ...base,
    lastSequenceNumber: sequenceNumber,
    lastUpdatedMs: snapshot.timestampMs,
    currentSnapshotId: o.snapshotId,
    snapshots: [...base.snapshots, snapshot],
    snapshotLog: [...base.snapshotLog, { timestampMs: snapshot.timestampMs, snapshotId: o.snapshotId }],
    refs: withBranchAt(base.refs, MAIN_BRANCH, o.snapshotId),
  };
  return { metadata, snapshot, written };
}

/** Writes the manifests of the new files (ADDED, inherited sequence numbers) once per commit. */
export async function prepareAddedManifests(
  storage: Storage,
  base: TableMetadata,
  change: TableChange,
  o: { snapshotId: bigint; commitUuid: string },
): Promise<PreparedManifests> {
  const schema = currentSchema(base);
  // One manifest per content and spec: a manifest's files share its partition spec.
  const groups = new Map<string, { content: ManifestContent; spec: PartitionSpec; dataFiles: DataFile[] }>();
  for (const [content, dataFiles] of [
    [ManifestContent.Data, change.addDataFiles ?? []],
    [ManifestContent.Deletes, change.addDeleteFiles ?? []],
  ] as const) {
    for (const f of dataFiles) {
      const want = content === ManifestContent.Data ? DataFileContent.Data : DataFileContent.PositionDeletes;
      if (f.content !== want) throw new SpecViolationError(`file ${f.filePath} has content ${f.content}, expected ${want}`);
      const spec = specOf(base, f.specId ?? base.defaultSpecId);
      if (f.partition.length !== spec.fields.length) {
        throw new SpecViolationError(`file ${f.filePath} has ${f.partition.length} partition values; spec ${spec.specId} has ${spec.fields.length}`);
      }
      const key = `${content}:${spec.specId}`;
      const group = groups.get(key) ?? { content, spec, dataFiles: [] };
      group.dataFiles.push(f);
      groups.set(key, group);
    }
  }
  const files: ManifestFile[] = [];
  try {
    for (const { content, spec, dataFiles } of groups.values()) {
      const entries = dataFiles.map((dataFile): ManifestEntry => ({ status: ManifestEntryStatus.Added, snapshotId: o.snapshotId, dataFile }));
      files.push(
        await writeManifest(storage, {
          tableLocation: base.location,
          commitUuid: o.commitUuid,
          index: files.length,
          schema,
          spec,
          content,
          entries,
          snapshotId: o.snapshotId,
          sequenceNumber: 0n,
          minSequenceNumber: 0n,
        }),
      );
    }
  } catch (error) {
    await discardWritten(storage, files.map((f) => f.manifestPath));
    throw error;
  }
  return { files, written: files.map((f) => f.manifestPath) };
}

export function newCommitIds(): { snapshotId: bigint; commitUuid: string } {
  return { snapshotId: newSnapshotId(), commitUuid: randomUUID() };
}
