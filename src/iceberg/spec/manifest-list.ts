// Manifest list entries (`manifest_file` records, format/spec.md §Manifest Lists).

import type { ManifestContent } from './manifest.js';

/** Per partition field summary, bounds in Appendix D encoding of the partition field's result type. */
export interface FieldSummary {
  readonly containsNull: boolean;
  readonly containsNan?: boolean;
  readonly lowerBound?: Uint8Array;
  readonly upperBound?: Uint8Array;
}

export interface ManifestFile {
  readonly manifestPath: string;
  /** Exact byte length: readers use it as the file size. */
  readonly manifestLength: number;
  readonly partitionSpecId: number;
  readonly content: ManifestContent;
  readonly sequenceNumber: bigint;
  readonly minSequenceNumber: bigint;
  readonly addedSnapshotId: bigint;
  readonly addedFilesCount: number;
  readonly existingFilesCount: number;
  readonly deletedFilesCount: number;
  readonly addedRowsCount: number;
  readonly existingRowsCount: number;
  readonly deletedRowsCount: number;
  /**
   * A v1 list left some counts out (optional there): the zeros above are not the manifest's, and a
   * commit counts its entries before listing it again (Java's readers skip a manifest listed with
   * no added and no existing files).
   */
  readonly countsUnknown?: boolean;
  readonly partitions?: readonly FieldSummary[];
  readonly keyMetadata?: Uint8Array;
}
