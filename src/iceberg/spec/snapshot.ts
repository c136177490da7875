// Snapshots, refs and the snapshot/metadata logs (format/spec.md §Snapshots, §Snapshot References).
// Ids and sequence numbers are 64-bit and stay bigint; epoch milliseconds fit a number.

export type Operation = 'append' | 'replace' | 'overwrite' | 'delete';

export interface Summary {
  readonly operation: Operation;
  /** Every other summary entry; values are strings on the wire (Java and DuckDB require it). */
  readonly properties: Readonly<Record<string, string>>;
}

export interface Snapshot {
  readonly snapshotId: bigint;
  readonly parentSnapshotId?: bigint;
  readonly sequenceNumber: bigint;
  readonly timestampMs: number;
  /** Location of the Avro manifest list. */
  readonly manifestList: string;
  readonly summary: Summary;
  readonly schemaId?: number;
}

export interface SnapshotRef {
  readonly snapshotId: bigint;
  readonly type: 'branch' | 'tag';
  readonly minSnapshotsToKeep?: number;
  readonly maxSnapshotAgeMs?: number;
  readonly maxRefAgeMs?: number;
}

export const MAIN_BRANCH = 'main';

/**
 * `refs` with branch `name` at `snapshotId`, keeping the branch's retention settings (spec
 * §Snapshot References: they belong to the ref, and engines such as Spark set them).
 */
export function withBranchAt(refs: Readonly<Record<string, SnapshotRef>>, name: string, snapshotId: bigint): Record<string, SnapshotRef> {
  const ref = refs[name];
  return { ...refs, [name]: { ...(ref?.type === 'branch' ? ref : {}), snapshotId, type: 'branch' } };
}

export interface SnapshotLogEntry {
  readonly timestampMs: number;
  readonly snapshotId: bigint;
}

export interface MetadataLogEntry {
  readonly timestampMs: number;
  readonly metadataFile: string;
}
