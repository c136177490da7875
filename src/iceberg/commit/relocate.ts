// Relocating a copied or moved table. Iceberg keeps absolute paths (metadata, manifest lists,
// manifests, position delete files), so a copy names the original's files and would read and
// commit into them. Relocation commits a new metadata version at the new place whose every path is
// under it: manifest lists and manifests rewritten under new names, position delete files (which
// hold data file paths) rewritten by the caller, data files named by their new path (bytes
// unchanged). Every file a snapshot uses is checked before anything is written, and so is that no
// folder written into is the original's (a symlinked or bind-mounted one); until the commit the
// table is as it was, and a relocation that fails removes what it wrote.

import { randomUUID } from 'node:crypto';
import { CommitStateUnknownError, JobError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { discardWritten, localPathOf, type Storage } from '../../core/storage.js';
import { encodeManifest, type DecodedManifest } from '../avro/manifest.js';
import { encodeManifestList } from '../avro/manifest-list.js';
import { readManifest, readManifestList } from '../scan/manifest-cache.js';
import { DataFileContent, ManifestEntryStatus, type DataFile, type ManifestEntry } from '../spec/manifest.js';
import type { ManifestFile } from '../spec/manifest-list.js';
import { parseTableMetadata } from '../spec/serde/table-metadata.js';
import type { Snapshot } from '../spec/snapshot.js';
import { statisticsEntryFile, statisticsPaths, type TableMetadata } from '../spec/table-metadata.js';
import { currentVersion } from '../table.js';
import { DATA_DIR, manifestListLocation, manifestLocation, METADATA_DIR, metadataFileLocation, versionHintLocation } from '../table-files.js';
import { withMetadataLog, writeMetadataVersion } from './write-metadata.js';
import { withCounts } from './table-change.js';
import { writeUncommitted } from './write-manifest.js';

export interface RelocateOptions {
  readonly storage: Storage;
  /** The table's folder as it is now (the copy). */
  readonly tableLocation: string;
  /**
   * Writes position delete file `file` again at `to` (under the new location) with every data file
   * path mapped by `mapPath`, and describes it (size, bounds); the partition is `file`'s.
   */
  readonly rewriteDeleteFile: (file: DataFile, to: string, mapPath: (location: string) => string) => Promise<DataFile>;
  readonly logger?: Logger;
}

export interface RelocateResult {
  /** The location the metadata named; equal to `to` when the table was already there. */
  readonly from: string;
  readonly to: string;
  readonly relocated: boolean;
  /** The metadata version written (the one read, when nothing was). */
  readonly version: number;
  readonly manifestLists: number;
  readonly manifests: number;
  readonly deleteFiles: number;
  readonly dataFiles: number;
  /** Data files the copy holds as symlinks to the original's (`cp -rs`), which it reads there; counted when it relocates. */
  readonly linkedFiles: number;
}

export async function relocateTable(o: RelocateOptions): Promise<RelocateResult> {
  const { storage, tableLocation: to } = o;
  let hinted: number | undefined;
  const version = await currentVersion(storage, to, { onHintAhead: (v) => (hinted = v) });
  if (version === undefined) throw new JobError('NOT_FOUND', `no Iceberg table at ${to} (no metadata/v<N>.metadata.json)`, { context: { table: to } });
  const metadataLocation = metadataFileLocation(to, version);
  const metadata = parseTableMetadata(new TextDecoder().decode(await storage.read(metadataLocation)), metadataLocation);
  const from = metadata.location.replace(/\/+$/, '');
  if (await storage.sameFolder(from, to)) {
    // Not a copy: a table in place that lacks the version its hint names fails as on every other read (65).
    if (hinted !== undefined) await currentVersion(storage, to);
    return { from, to, relocated: false, version, manifestLists: 0, manifests: 0, deleteFiles: 0, dataFiles: 0, linkedFiles: 0 };
  }
  // Expected of a copy of links whose original committed on; a real copy lacking the newest
  // metadata was taken mid-commit and misses that commit, which whoever moves a table must hear.
  if (hinted !== undefined) {
    o.logger?.warn({ table: to, hinted, version }, `relocate: ${versionHintLocation(to)} names version ${hinted}, which the copy at ${to} lacks; relocating its newest own metadata, version ${version}: if the copy was taken while the original committed, it lacks those commits (copy the table again to have them)`);
  }
  if (metadata.formatVersion !== 2) {
    throw new JobError('DATA', `the table at ${to} is Iceberg format version ${metadata.formatVersion}; relocation writes version 2 manifests and supports version 2 tables only`, { context: { table: to } });
  }
  // By local path: Java writes `file:/p` in manifests and `file:///p` as the location, and both mean /p.
  const fromPath = localPathOrUndefined(from);
  if (fromPath === undefined) {
    throw new JobError('DATA', `the table at ${to} was written at ${from}: relocation maps tables written on a local file system (file://) only`, { context: { table: to, from } });
  }
  const mapPath = (location: string): string => {
    const path = localPathOrUndefined(location);
    if (path === fromPath) return to;
    if (path?.startsWith(fromPath + '/') === true) return to + path.slice(fromPath.length);
    throw new JobError('DATA', `the table at ${to} (copied from ${from}) names ${location}, which is outside the table's own folder: relocation maps only paths under it`, {
      context: { table: to, from, location },
    });
  };

  const plan = await planRelocation(storage, metadata, mapPath, to);
  const folderOf = (location: string) => {
    const mapped = mapPath(location);
    return mapped.slice(to.length + 1, mapped.lastIndexOf('/'));
  };
  // data/ always: a table with no live file yet writes its first files there.
  await refuseSharedFolders(storage, from, to, [METADATA_DIR, DATA_DIR, ...plan.liveFiles.map(folderOf)]);
  // Files linked one by one (cp -rs) are a cheap sandbox that never writes into the original (its
  // deletes remove the links), but breaks once the original's maintenance removes them, which
  // whoever moves a table must hear. Delete files are written anew.
  const linked: string[] = [];
  for (const file of plan.liveFiles) {
    const copy = mapPath(file);
    if (!plan.liveDeleteFiles.has(file) && (await storage.isLinkTo(copy, file))) linked.push(copy);
  }
  if (linked.length > 0) {
    const n = linked.length;
    o.logger?.warn({ table: to, from, linkedFiles: n, example: linked[0] }, `relocate: ${n} data files of the copy at ${to} are links to the original's at ${from} (e.g. ${linked[0]}): the copy reads them there and breaks once the original's compaction, snapshot expiry or orphan removal deletes them, or the original is removed; to keep it, copy the files themselves (cp -rL from the copy, or cp -a from the original)`);
  }
  const written: string[] = [];
  try {
    return { ...(await writeRelocation(o, metadata, version, plan, mapPath, from, written)), linkedFiles: linked.length };
  } catch (error) {
    // Not after an unknown commit outcome: the new version may name them.
    if (!(error instanceof CommitStateUnknownError)) await discardWritten(storage, written);
    throw error;
  }
}

/**
 * Refuses a copy whose folders (`metadata/`, `data/`, those of the files snapshots use, and the
 * folders between; relative to the table) are the original's, through a symlink or a bind mount: the
 * relocation, or the copy's merges and maintenance after it, would write and delete there. The
 * outermost such folder is named.
 */
async function refuseSharedFolders(storage: Storage, from: string, to: string, folders: readonly string[]): Promise<void> {
  const all = new Set<string>();
  for (const folder of folders) {
    const parts = folder.split('/');
    for (let i = 1; i <= parts.length; i++) all.add(parts.slice(0, i).join('/'));
  }
  const byDepth = [...all].filter((f) => f !== '').sort((a, b) => a.split('/').length - b.split('/').length);
  for (const folder of byDepth) {
    if (!(await storage.sameFolder(`${from}/${folder}`, `${to}/${folder}`))) continue;
    throw new JobError('DATA', `${to}/${folder} is the original's folder ${from}/${folder} (a symlink or a bind mount): relocating, or the copy's merges and maintenance after it, would write and delete in the original; copy the table's folders, not links to them`, {
      context: { table: to, from, folder },
    });
  }
}

async function writeRelocation(
  o: RelocateOptions,
  metadata: TableMetadata,
  version: number,
  plan: RelocationPlan,
  mapPath: (location: string) => string,
  from: string,
  written: string[],
): Promise<Omit<RelocateResult, 'linkedFiles'>> {
  const { storage, tableLocation: to } = o;
  const metadataLocation = metadataFileLocation(to, version);
  const writtenManifests = new Map<string, ManifestFile>();
  const rewrittenDeletes = new Map<string, DataFile>();
  const commitUuid = randomUUID();
  const rewriteDeleteFile = async (file: DataFile, target: string, map: (l: string) => string): Promise<DataFile> => {
    written.push(target);
    return o.rewriteDeleteFile(file, target, map);
  };
  let manifestIndex = 0;
  for (const [oldPath, manifest] of plan.manifests) {
    const entries: ManifestEntry[] = [];
    for (const entry of manifest.decoded.entries) entries.push(await relocateEntry(entry, mapPath, plan.liveDeleteFiles, rewrittenDeletes, rewriteDeleteFile, commitUuid));
    const schema = metadata.schemas.find((s) => s.schemaId === manifest.decoded.schemaId) ?? metadata.schemas.find((s) => s.schemaId === metadata.currentSchemaId)!;
    const spec = metadata.partitionSpecs.find((s) => s.specId === manifest.decoded.specId);
    if (spec === undefined) throw new JobError('DATA', `manifest ${oldPath} of ${to} names partition spec ${manifest.decoded.specId}, which the table metadata lacks`, { context: { table: to } });
    const bytes = await encodeManifest({ schema, spec, content: manifest.decoded.content, entries });
    const location = manifestLocation(to, commitUuid, manifestIndex++).replace(/\.avro$/, '-relocated.avro');
    written.push(location);
    await writeUncommitted(storage, location, bytes);
    // A v1 list may have left the counts out: listed as zeros, Java's readers would skip the manifest.
    const file = manifest.file.countsUnknown === true ? withCounts(manifest.file, manifest.decoded.entries) : manifest.file;
    writtenManifests.set(oldPath, { ...file, manifestPath: location, manifestLength: bytes.byteLength });
  }
  const snapshots: Snapshot[] = [];
  for (const snapshot of metadata.snapshots) {
    const files = plan.lists.get(snapshot.snapshotId)!.map((m) => {
      const written = writtenManifests.get(m.manifestPath)!;
      // The written record is this manifest's, counted when the list left its counts out.
      return { ...(m.countsUnknown === true ? written : m), manifestPath: written.manifestPath, manifestLength: written.manifestLength };
    });
    const bytes = await encodeManifestList(files, {
      snapshotId: snapshot.snapshotId,
      ...(snapshot.parentSnapshotId === undefined ? {} : { parentSnapshotId: snapshot.parentSnapshotId }),
      sequenceNumber: snapshot.sequenceNumber,
    });
    const location = manifestListLocation(to, snapshot.snapshotId, 1, commitUuid).replace(/\.avro$/, '-relocated.avro');
    written.push(location);
    await writeUncommitted(storage, location, bytes);
    snapshots.push({ ...snapshot, manifestList: location });
  }
  const properties = Object.fromEntries(Object.entries(metadata.properties).map(([k, v]) => [k, isUnder(v, from) ? mapPath(v) : v]));
  const mapStatistics = (entries: readonly unknown[] | undefined) =>
    entries?.map((e) => (statisticsEntryFile(e).path === '' ? e : { ...(e as object), 'statistics-path': mapPath(statisticsEntryFile(e).path) }));
  const statistics = mapStatistics(metadata.statistics);
  const partitionStatistics = mapStatistics(metadata.partitionStatistics);
  const next: TableMetadata = withMetadataLog(
    {
      ...metadata,
      location: to,
      lastUpdatedMs: Math.max(Date.now(), metadata.lastUpdatedMs),
      snapshots,
      properties,
      metadataLog: metadata.metadataLog.map((e) => ({ ...e, metadataFile: mapPath(e.metadataFile) })),
      ...(statistics === undefined ? {} : { statistics }),
      ...(partitionStatistics === undefined ? {} : { partitionStatistics }),
    },
    metadataLocation,
    metadata,
  );
  // The copy's data files may still sit in the page cache (cp syncs nothing): they must survive a
  // power loss before a version naming them exists, as for every commit (table.ts).
  // Statistics files too, those the copy has (they are optional to readers, so a missing one is not refused).
  const statisticsFiles = [];
  for (const path of statisticsPaths(metadata)) if ((await storage.stat(mapPath(path))) !== undefined) statisticsFiles.push(mapPath(path));
  await storage.makeDurable([...plan.liveFiles.filter((f) => !plan.liveDeleteFiles.has(f)).map(mapPath), ...statisticsFiles], to);
  if (!(await writeMetadataVersion(storage, next, version + 1, o.logger))) {
    throw new JobError('COMMIT_CONFLICT', `the table at ${to} changed while it was relocated (version ${version + 1} appeared); run the relocation again`, { context: { table: to } });
  }
  return {
    from,
    to,
    relocated: true,
    version: version + 1,
    manifestLists: snapshots.length,
    manifests: writtenManifests.size,
    deleteFiles: rewrittenDeletes.size,
    dataFiles: plan.dataFiles,
  };
}

/** Whether `location` is `folder` or under it, by local path. */
function isUnder(location: string, folder: string): boolean {
  const path = localPathOrUndefined(location);
  const root = localPathOrUndefined(folder);
  return path !== undefined && root !== undefined && (path === root || path.startsWith(root + '/'));
}

function localPathOrUndefined(location: string): string | undefined {
  try {
    return localPathOf(location);
  } catch {
    return undefined; // another scheme (s3://): never under a local table folder
  }
}

interface RelocationPlan {
  /** Each snapshot's manifests, as its list names them (old paths). */
  readonly lists: Map<bigint, ManifestFile[]>;
  /** Every manifest once (snapshots share them), by old path. */
  readonly manifests: Map<string, { file: ManifestFile; decoded: DecodedManifest }>;
  readonly dataFiles: number;
  /** Position delete files some snapshot still uses: rewritten, and named so by every entry. */
  readonly liveDeleteFiles: ReadonlySet<string>;
  /** Every file some snapshot still uses (old paths). */
  readonly liveFiles: readonly string[];
}

/**
 * Reads every manifest list and manifest from the copy and checks that each file a snapshot still
 * uses is there with the size its manifest records: an incomplete copy is refused before anything
 * is written, naming the missing file.
 */
async function planRelocation(storage: Storage, metadata: TableMetadata, mapPath: (l: string) => string, to: string): Promise<RelocationPlan> {
  const lists = new Map<bigint, ManifestFile[]>();
  const manifests = new Map<string, { file: ManifestFile; decoded: DecodedManifest }>();
  const live = new Map<string, number>();
  const present = async (location: string, what: string, size?: number): Promise<void> => {
    const info = await storage.stat(location);
    if (info === undefined) throw new JobError('DATA', `the copy of the table at ${to} lacks ${what} ${location}: copy the whole table folder, then relocate`, { context: { table: to, missing: location } });
    if (size !== undefined && info.sizeBytes !== size) {
      throw new JobError('DATA', `${what} ${location} of the table at ${to} has ${info.sizeBytes} bytes, its manifest says ${size}: the copy is incomplete or the file changed`, { context: { table: to, file: location } });
    }
  };
  for (const snapshot of metadata.snapshots) {
    const listLocation = mapPath(snapshot.manifestList);
    await present(listLocation, `the manifest list of snapshot ${snapshot.snapshotId}`);
    const files = await readManifestList(storage, listLocation);
    lists.set(snapshot.snapshotId, files);
    for (const file of files) {
      if (manifests.has(file.manifestPath)) continue;
      const location = mapPath(file.manifestPath);
      await present(location, 'manifest', file.manifestLength);
      const decoded = await readManifest(storage, location, file.manifestLength);
      manifests.set(file.manifestPath, { file, decoded });
      for (const e of decoded.entries) {
        // A deleted entry names a file its snapshot removed, which expiry may have deleted since.
        if (e.status !== ManifestEntryStatus.Deleted) live.set(e.dataFile.filePath, e.dataFile.fileSizeInBytes);
      }
    }
  }
  for (const [location, size] of live.entries()) await present(mapPath(location), 'file', size);
  const liveDeleteFiles = new Set<string>();
  for (const { decoded } of manifests.values()) {
    for (const e of decoded.entries) if (e.dataFile.content === DataFileContent.PositionDeletes && live.has(e.dataFile.filePath)) liveDeleteFiles.add(e.dataFile.filePath);
  }
  return { lists, manifests, dataFiles: live.size - liveDeleteFiles.size, liveDeleteFiles, liveFiles: [...live.keys()] };
}

async function relocateEntry(
  entry: ManifestEntry,
  mapPath: (l: string) => string,
  live: ReadonlySet<string>,
  rewritten: Map<string, DataFile>,
  rewriteDeleteFile: RelocateOptions['rewriteDeleteFile'],
  commitUuid: string,
): Promise<ManifestEntry> {
  const file = entry.dataFile;
  const mapped: DataFile = { ...file, filePath: mapPath(file.filePath), ...(file.referencedDataFile === undefined ? {} : { referencedDataFile: mapPath(file.referencedDataFile) }) };
  // Position deletes hold data file paths: one a snapshot still uses is written again under a new
  // name, which its deleted entries name too (expiry matches files by path). Equality deletes and
  // data files hold none.
  if (!live.has(file.filePath)) return { ...entry, dataFile: mapped };
  let done = rewritten.get(file.filePath);
  if (done === undefined) {
    // One suffix, also when a copy of a relocated table is relocated.
    const target = mapped.filePath.replace(/(?:-relocated-[0-9a-f]{8})?(\.[a-z]+)?$/, `-relocated-${commitUuid.slice(0, 8)}$1`);
    const described = await rewriteDeleteFile(file, target, mapPath);
    done = { ...described, partition: file.partition, ...(mapped.referencedDataFile === undefined ? {} : { referencedDataFile: mapped.referencedDataFile }) };
    rewritten.set(file.filePath, done);
  }
  return { ...entry, dataFile: done };
}
