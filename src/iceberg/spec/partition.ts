// Partition specs and transforms as data (format/spec.md §Partitioning, §Partition Transforms).
// The computation of transforms lives in transform.ts; this file only names them.

export type Transform =
  | { readonly kind: 'identity' }
  | { readonly kind: 'bucket'; readonly numBuckets: number }
  | { readonly kind: 'truncate'; readonly width: number }
  | { readonly kind: 'year' }
  | { readonly kind: 'month' }
  | { readonly kind: 'day' }
  | { readonly kind: 'hour' }
  | { readonly kind: 'void' };

export interface PartitionField {
  /** Field id of the source column in the table schema. */
  readonly sourceId: number;
  /** Partition field id, unique across all specs of a table; 1000 and up by convention. */
  readonly fieldId: number;
  readonly name: string;
  readonly transform: Transform;
}

export interface PartitionSpec {
  readonly specId: number;
  readonly fields: readonly PartitionField[];
}

/** Java's value of last-partition-id for a table that never had a partition field. */
export const UNPARTITIONED_LAST_PARTITION_ID = 999;

/**
 * One partition value, typed by the transform's result type: int/date/hour/month/year/bucket →
 * number, long/time/timestamp* → bigint, string → string, boolean, binary/fixed/uuid/decimal →
 * Uint8Array (spec binary form), float/double → number, and null.
 */
export type PartitionValue = number | bigint | string | boolean | Uint8Array | null;

/** The partition tuple of a data file, in the order of its spec's fields. */
export type PartitionTuple = readonly PartitionValue[];
