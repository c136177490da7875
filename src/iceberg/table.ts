// A loaded table: one immutable metadata version plus the operations that read or commit it.
// Commits are optimistic (iceberg-notes §8): build on the version we read, create the next
// version only if absent, and on a lost race re-read and re-apply.

import { setTimeout as sleep } from 'node:timers/promises';
import { CommitStateUnknownError, JobError, SpecViolationError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { discardWritten, joinLocation, type Storage } from '../core/storage.js';
import { retryPolicy, retryWaitMs } from './commit/retry-policy.js';
import type { TableChange } from './commit/table-change.js';
import { planIncremental, type IncrementalPlan } from './scan/incremental.js';
import { predicateFilter, type Predicate } from './scan/predicate.js';
import { planSnapshot, type FileFilter, type ScanPlan } from './scan/plan.js';
import type { PartitionSpec } from './spec/partition.js';
import { parseTableMetadata } from './spec/serde/table-metadata.js';
import type { Snapshot } from './spec/snapshot.js';
import type { SortOrder } from './spec/sort-order.js';
import type { TableMetadata } from './spec/table-metadata.js';
import type { Schema } from './spec/types.js';
import { DATA_DIR, metadataFileLocation, versionHintLocation, versionOfMetadataFile } from './table-files.js';

export interface CommitResult {
  readonly table: Table;
  readonly snapshot: Snapshot;
  readonly metadataLocation: string;
}

export class Table {
  constructor(
    readonly storage: Storage,
    readonly metadata: TableMetadata,
    /** The N of the `v<N>.metadata.json` this was loaded from. */
    readonly version: number,
    private readonly logger?: Logger,
  ) {}

  get location(): string {
    return this.metadata.location;
  }

  get metadataLocation(): string {
    return metadataFileLocation(this.location, this.version);
  }

  schema(): Schema {
    const s = this.metadata.schemas.find((x) => x.schemaId === this.metadata.currentSchemaId);
    if (s === undefined) throw new SpecViolationError(`table ${this.location} has no current schema`);
    return s;
  }

  spec(specId = this.metadata.defaultSpecId): PartitionSpec {
    const s = this.metadata.partitionSpecs.find((x) => x.specId === specId);
    if (s === undefined) throw new SpecViolationError(`table ${this.location} has no partition spec ${specId}`);
    return s;
  }

  /** The default sort order: how writers order rows within a data file (no fields: unsorted). */
  sortOrder(): SortOrder {
    const s = this.metadata.sortOrders.find((x) => x.orderId === this.metadata.defaultSortOrderId);
    if (s === undefined) throw new SpecViolationError(`table ${this.location} has no sort order ${this.metadata.defaultSortOrderId}`);
    return s;
  }

  currentSnapshot(): Snapshot | undefined {
    const id = this.metadata.currentSnapshotId;
    return id === undefined ? undefined : this.snapshot(id);
  }

  snapshot(id: bigint): Snapshot | undefined {
    return this.metadata.snapshots.find((s) => s.snapshotId === id);
  }

  /** The snapshot a branch or tag points at, if the ref exists. */
  snapshotByRef(ref: string): Snapshot | undefined {
    const r = this.metadata.refs[ref];
    return r === undefined ? undefined : this.snapshot(r.snapshotId);
  }

  /** The snapshot that was current at `timestampMs` (from the snapshot log), if any. */
  snapshotAsOf(timestampMs: number): Snapshot | undefined {
    let found: bigint | undefined;
    for (const e of this.metadata.snapshotLog) if (e.timestampMs <= timestampMs) found = e.snapshotId;
    return found === undefined ? undefined : this.snapshot(found);
  }

  /**
   * Whether snapshots current at `timestampMs` were expired: the time is before the oldest entry
   * of the snapshot log, and the table had history then: that entry's snapshot has a parent, or a
   * snapshot was made by then (the entry is a rollback's, the log before it was dropped).
   */
  isExpiredAt(timestampMs: number): boolean {
    const first = this.metadata.snapshotLog[0];
    if (first === undefined || timestampMs >= first.timestampMs) return false;
    return this.snapshot(first.snapshotId)?.parentSnapshotId !== undefined || this.metadata.snapshots.some((s) => s.timestampMs <= timestampMs);
  }

  /**
   * The newest value of a summary property on `from` or its ancestors. Writers that know nothing of
   * the property (a compaction by another engine) make snapshots without it; Flink's committer
   * reads its checkpoint id the same way.
   */
  summaryProperty(key: string, from: Snapshot | undefined = this.currentSnapshot()): { value: string; snapshot: Snapshot } | undefined {
    for (let s = from; s !== undefined; s = s.parentSnapshotId === undefined ? undefined : this.snapshot(s.parentSnapshotId)) {
      const value = s.summary.properties[key];
      if (value !== undefined) return { value, snapshot: s };
    }
    return undefined;
  }

  /** The directory new data files of a partition go to. */
  dataLocation(partitionPath: string): string {
    return partitionPath === '' ? joinLocation(this.location, DATA_DIR) : joinLocation(this.location, DATA_DIR, partitionPath);
  }

  async refresh(): Promise<Table> {
    return loadTableAt(this.storage, this.location, this.logger);
  }

  /** The live files of a snapshot (default: current), pruned by `where` (see scan/predicate) and `filter`. */
  async planFiles(o: { snapshotId?: bigint; filter?: FileFilter; where?: readonly Predicate[] } = {}): Promise<ScanPlan> {
    const byWhere = o.where === undefined || o.where.length === 0 ? undefined : predicateFilter(this.schema(), this.metadata.partitionSpecs, o.where);
    const filter: FileFilter | undefined = byWhere === undefined ? o.filter : o.filter === undefined ? byWhere : (f, id) => byWhere(f, id) && o.filter!(f, id);
    const snapshot = o.snapshotId === undefined ? this.currentSnapshot() : this.snapshot(o.snapshotId);
    if (o.snapshotId !== undefined && snapshot === undefined) {
      throw new JobError('NOT_FOUND', `table ${this.location} has no snapshot ${o.snapshotId}`, { context: { table: this.location } });
    }
    return planSnapshot(this.storage, snapshot, filter);
  }

  /** Ancestors of `to` back to (excluding) `from`, oldest first; throws if `from` is not an ancestor. */
  ancestorsBetween(fromExclusive: bigint | undefined, toInclusive: bigint): Snapshot[] {
    const out: Snapshot[] = [];
    let id: bigint | undefined = toInclusive;
    while (id !== undefined && id !== fromExclusive) {
      const s = this.snapshot(id);
      if (s === undefined) break;
      out.push(s);
      id = s.parentSnapshotId;
    }
    if (fromExclusive !== undefined && id !== fromExclusive) {
      throw new JobError('NOT_FOUND', `snapshot ${fromExclusive} is not an ancestor of ${toInclusive} in ${this.location} (expired?)`, {
        context: { table: this.location },
      });
    }
    return out.reverse();
  }

  /** `snapshotId` and its ancestors still in the metadata, newest first. */
  lineage(snapshotId: bigint): Snapshot[] {
    const out: Snapshot[] = [];
    for (let s = this.snapshot(snapshotId); s !== undefined; s = s.parentSnapshotId === undefined ? undefined : this.snapshot(s.parentSnapshotId)) out.push(s);
    return out;
  }

  /** Whether `ancestorId` is `snapshotId` or one of its ancestors (Java's SnapshotUtil.isAncestorOf). */
  isAncestorOf(snapshotId: bigint, ancestorId: bigint): boolean {
    for (let s = this.snapshot(snapshotId); s !== undefined; s = s.parentSnapshotId === undefined ? undefined : this.snapshot(s.parentSnapshotId)) {
      if (s.snapshotId === ancestorId) return true;
    }
    return false;
  }

  /**
   * The newest snapshot in the histories of both `a` and `b` (where a rollback and the commits
   * after it branched off), or undefined when expiry removed what would tell.
   */
  newestCommonAncestor(a: bigint, b: bigint): bigint | undefined {
    const ofB = new Set(this.lineage(b).map((s) => s.snapshotId));
    return this.lineage(a).find((s) => ofB.has(s.snapshotId))?.snapshotId;
  }

  /**
   * The files added after `from` up to `to` by appends, overwrites and deletes (the incremental
   * read of an append-mostly table; see scan/incremental). With no `from`, the live files of `to`:
   * every row added so far, whatever was compacted or expired before, so a first read needs none
   * of the older snapshots.
   */
  async changesBetween(fromExclusive: bigint | undefined, toInclusive: bigint): Promise<IncrementalPlan> {
    if (fromExclusive === undefined) {
      const plan = await this.planFiles({ snapshotId: toInclusive });
      return { dataFiles: plan.dataFiles, deleteFiles: plan.deleteFiles };
    }
    return planIncremental(this.storage, this.ancestorsBetween(fromExclusive, toInclusive));
  }

  /** Commits one snapshot. Retries lost races; conflicts the change cannot survive throw. */
  async commit(change: TableChange): Promise<CommitResult> {
    const { applyChange, newCommitIds, prepareAddedManifests, withMetadataLog, writeMetadataVersion } = await commitPath();
    // The files must survive a power loss before the metadata naming them can exist.
    await this.storage.makeDurable([...(change.addDataFiles ?? []), ...(change.addDeleteFiles ?? [])].map((f) => f.filePath), this.location);
    const ids = newCommitIds();
    const added = await prepareAddedManifests(this.storage, this.metadata, change, ids);
    const startSequenceNumber = this.currentSnapshot()?.sequenceNumber ?? 0n;
    // As Java's SnapshotProducer.cleanAll: a commit that surely failed leaves none of its manifests
    // behind (retried on a full disk, each attempt would fill it further); one of unknown outcome
    // keeps them, as the new version may reference them.
    const discardUnless = async (error: unknown, locations: readonly string[]) => {
      if (!(error instanceof CommitStateUnknownError)) await discardWritten(this.storage, locations);
    };
    try {
      return await this.retryingLostRaces('commit to', async (base, attempt) => {
        const next = await applyChange(this.storage, base.metadata, change, { ...ids, attempt, added, nowMs: Date.now(), startSequenceNumber });
        const metadata = withMetadataLog(next.metadata, base.metadataLocation, base.metadata);
        const won = await writeMetadataVersion(this.storage, metadata, base.version + 1, this.logger).catch(async (error: unknown) => {
          await discardUnless(error, next.written);
          throw error;
        });
        if (won) {
          const table = new Table(this.storage, metadata, base.version + 1, this.logger);
          try {
            this.logger?.debug({ table: this.location, snapshotId: String(next.snapshot.snapshotId), version: base.version + 1 }, 'committed');
          } catch {
            // Published: a log line that cannot be written (stderr on a full disk) must not read as a failed commit, whose files callers delete.
          }
          return { table, snapshot: next.snapshot, metadataLocation: table.metadataLocation };
        }
        await discardWritten(this.storage, next.written);
        return undefined;
      });
    } catch (error) {
      await discardUnless(error, added.written);
      throw error;
    }
  }

  /** A metadata-only change (partition evolution, properties, snapshot expiry), with the same retry rule. */
  async updateMetadata(update: (current: TableMetadata) => TableMetadata): Promise<Table> {
    const { withMetadataLog, writeMetadataVersion } = await commitPath();
    return this.retryingLostRaces('update', async (base) => {
      const updated = update(base.metadata);
      // An update that sets lastUpdatedMs itself (a rollback, to match its log entry) keeps it.
      const lastUpdatedMs = updated.lastUpdatedMs !== base.metadata.lastUpdatedMs ? updated.lastUpdatedMs : Math.max(Date.now(), base.metadata.lastUpdatedMs);
      const next = withMetadataLog({ ...updated, lastUpdatedMs }, base.metadataLocation, base.metadata);
      return (await writeMetadataVersion(this.storage, next, base.version + 1, this.logger)) ? new Table(this.storage, next, base.version + 1, this.logger) : undefined;
    });
  }

  /**
   * Runs `attempt` on this version, then, while another writer wins (undefined), on the newest
   * version after the table's commit.retry wait, up to its retries and total timeout.
   */
  private async retryingLostRaces<T>(what: string, attempt: (base: Table, attempt: number) => Promise<T | undefined>): Promise<T> {
    const policy = retryPolicy(this.metadata);
    const startedMs = Date.now();
    let base: Table = this;
    for (let n = 0; ; n++) {
      const result = await attempt(base, n);
      if (result !== undefined) return result;
      const elapsedMs = Date.now() - startedMs;
      // As Java's Tasks: the timeout ends retrying only after one retry, so a slow first attempt still gets one.
      if (n >= policy.retries || (n >= 1 && elapsedMs > policy.totalTimeoutMs)) {
        throw new JobError('COMMIT_CONFLICT', `could not ${what} ${this.location} after ${n + 1} attempts in ${Math.round(elapsedMs / 1000)} s: other writers kept winning`, {
          context: { table: this.location, attempts: n + 1 },
        });
      }
      const waitMs = retryWaitMs(policy, n + 1);
      this.logger?.info({ table: this.location, attempt: n, waitMs }, 'lost a commit race; re-reading and retrying');
      await sleep(waitMs);
      base = await base.refresh();
    }
  }
}

/**
 * The commit modules (manifest writing and merging, Avro encoding, metadata writing), loaded on the
 * first commit: read-only commands such as `mwlake query` never pay for them.
 */
export async function commitPath(): Promise<typeof import('./commit/table-change.js') & typeof import('./commit/write-metadata.js')> {
  const [change, metadata] = await Promise.all([import('./commit/table-change.js'), import('./commit/write-metadata.js')]);
  return { ...change, ...metadata };
}

async function readText(storage: Storage, location: string): Promise<string | undefined> {
  if ((await storage.stat(location)) === undefined) return undefined;
  return new TextDecoder().decode(await storage.read(location));
}

async function newestListedVersion(storage: Storage, tableLocation: string): Promise<number | undefined> {
  let version: number | undefined;
  for await (const o of storage.list(joinLocation(tableLocation, 'metadata'))) {
    const v = versionOfMetadataFile(o.location);
    if (v !== undefined && (version === undefined || v > version)) version = v;
  }
  return version;
}

/**
 * The newest version: the hint if present, walking forward past a stale hint as Java does. A hint
 * naming a missing file fails the load, as in Java (metadata was lost), unless `onHintAhead` is
 * given: relocation reads copies whose hint may name a version they lack (a copy of links, whose
 * hint is the original's, or a copy taken while the original committed), and is told the version.
 */
export async function currentVersion(storage: Storage, tableLocation: string, options: { readonly onHintAhead?: (hinted: number) => void } = {}): Promise<number | undefined> {
  const hintLocation = versionHintLocation(tableLocation);
  const hint = await readText(storage, hintLocation);
  let version: number | undefined;
  if (hint !== undefined && /^\d+$/.test(hint.trim())) version = Number(hint.trim());
  if (version !== undefined && (await storage.stat(metadataFileLocation(tableLocation, version))) === undefined) {
    if (options.onHintAhead !== undefined) {
      options.onHintAhead(version);
      version = undefined;
    } else {
      // Only a hint ahead of every metadata file is lost metadata; one behind newer files lost
      // its file to metadata cleanup after later commits: go on from the newest listed.
      const newest = await newestListedVersion(storage, tableLocation);
      if (newest !== undefined && newest > version) version = newest;
      else {
        const present = newest === undefined ? 'no v<N>.metadata.json is present' : `the newest present is ${metadataFileLocation(tableLocation, newest)}`;
        throw new JobError(
          'DATA',
          `${hintLocation} names version ${version}, but its metadata file ${metadataFileLocation(tableLocation, version)} is missing (${present}): ` +
            `the table lost its newest metadata, or is a copy taken while it committed (copy it again)`,
          { context: { table: tableLocation, hint: hintLocation, hinted: version, ...(newest === undefined ? {} : { newest }) } },
        );
      }
    }
  }
  if (version === undefined) version = await newestListedVersion(storage, tableLocation);
  if (version === undefined) return undefined;
  while ((await storage.stat(metadataFileLocation(tableLocation, version + 1))) !== undefined) version++;
  return version;
}

export async function loadTableAt(storage: Storage, tableLocation: string, logger?: Logger): Promise<Table> {
  const version = await currentVersion(storage, tableLocation);
  if (version === undefined) throw new JobError('NOT_FOUND', `no Iceberg table at ${tableLocation} (no metadata/v<N>.metadata.json)`, { context: { table: tableLocation } });
  const location = metadataFileLocation(tableLocation, version);
  const text = await readText(storage, location);
  if (text === undefined) throw new CommitStateUnknownError(`metadata file ${location} vanished while loading`, { context: { table: tableLocation } });
  const metadata = parseTableMetadata(text, location);
  // Every path in a table is absolute: a copy found here would read the original's files, and
  // commit into the original's metadata folder.
  if (!(await storage.sameFolder(metadata.location, tableLocation))) {
    throw new JobError(
      'DATA',
      `the table at ${tableLocation} says its location is ${metadata.location}: it was copied or moved from there, and Iceberg tables keep absolute paths, ` +
        `so using it would read (and commit into) the original; refusing it. Use the table where it was written, or make the copy name its own files with mwlake table relocate`,
      { context: { table: tableLocation, location: metadata.location } },
    );
  }
  return new Table(storage, metadata, version, logger);
}

/**
 * Loads the table a given metadata file describes, for tables other catalogs manage (PyIceberg's
 * SQL catalog names them `NNNNN-<uuid>.metadata.json` and keeps no version hint). Read it; commit
 * through the catalog that owns it.
 */
export async function loadTableFromMetadataFile(storage: Storage, metadataLocation: string, logger?: Logger): Promise<Table> {
  const text = await readText(storage, metadataLocation);
  if (text === undefined) throw new JobError('NOT_FOUND', `no metadata file at ${metadataLocation}`, { context: { table: metadataLocation } });
  const match = /\/(?:v(\d+)|(\d+)-[^/]*)\.metadata\.json$/.exec(metadataLocation);
  const version = match === null ? 0 : Number(match[1] ?? match[2]);
  return new Table(storage, parseTableMetadata(text, metadataLocation), version, logger);
}
