// Manifest entries and data files (format/spec.md §Manifests), the model that serde/ and the Avro
// layer convert to and from `manifest_entry` records. Counts and sizes are numbers (a file or row
// count above 2^53 is not physical); ids and sequence numbers are bigint.

import type { PartitionTuple } from './partition.js';

export enum ManifestEntryStatus {
  Existing = 0,
  Added = 1,
  Deleted = 2,
}

export enum DataFileContent {
  Data = 0,
  PositionDeletes = 1,
  EqualityDeletes = 2,
}

export type FileFormat = 'PARQUET' | 'AVRO' | 'ORC' | 'PUFFIN';

export interface DataFile {
  readonly content: DataFileContent;
  /** Full URI with scheme. */
  readonly filePath: string;
  readonly fileFormat: FileFormat;
  /** Values in the order of the partition spec's fields (the spec id is the manifest's). */
  readonly partition: PartitionTuple;
  readonly recordCount: number;
  /** Exact: DuckDB and others use it as the file length without a stat. */
  readonly fileSizeInBytes: number;
  /** Keyed by leaf field id. */
  readonly columnSizes?: ReadonlyMap<number, number>;
  readonly valueCounts?: ReadonlyMap<number, number>;
  readonly nullValueCounts?: ReadonlyMap<number, number>;
  readonly nanValueCounts?: ReadonlyMap<number, number>;
  /** Appendix D single-value binary encoding of the column's type. */
  readonly lowerBounds?: ReadonlyMap<number, Uint8Array>;
  readonly upperBounds?: ReadonlyMap<number, Uint8Array>;
  readonly keyMetadata?: Uint8Array;
  /** Row group start offsets, ascending. */
  readonly splitOffsets?: readonly number[];
  readonly equalityIds?: readonly number[];
  readonly sortOrderId?: number;
  /** Set on position delete files whose deletes all target one data file. */
  readonly referencedDataFile?: string;
  /**
   * The spec `partition` is of, for a file being added (iceberg-rust's `partition_spec_id`; not in
   * the Avro record): a commit lists it in a manifest of that spec. Absent: the table's default
   * spec. A delete for a data file of an older spec must carry that spec's id and tuple.
   */
  readonly specId?: number;
}

export interface ManifestEntry {
  readonly status: ManifestEntryStatus;
  /** Undefined means inherited from the manifest list's added_snapshot_id. */
  readonly snapshotId?: bigint;
  /** Data sequence number; undefined means inherited (only for ADDED entries). */
  readonly sequenceNumber?: bigint;
  readonly fileSequenceNumber?: bigint;
  readonly dataFile: DataFile;
}

/** A manifest's content kind: it holds data files or delete files, never both. */
export enum ManifestContent {
  Data = 0,
  Deletes = 1,
}
