// Data files' key ranges from their bounds: the merge's file pruning (whether a data file of a
// wiki-partitioned table, the wiki its first partition value, could hold one of the wiki's keys in
// one of the key columns; a file without bounds may) and compaction's disjoint ranges.

import { decodeValue } from '../iceberg/spec/bounds.js';
import type { DataFile } from '../iceberg/spec/manifest.js';

/** Sorted keys per wiki. */
export type KeysByWiki = ReadonlyMap<string, readonly bigint[]>;

/** `fieldIds`: the key columns' ids; undefined for a column the schema does not know (it may hold any key). */
export function mayHoldKeys(file: DataFile, keysByWiki: KeysByWiki, fieldIds: readonly (number | undefined)[]): boolean {
  const keys = keysByWiki.get(String(file.partition[0]));
  if (keys === undefined) return false;
  return fieldIds.some((id) => {
    if (id === undefined) return true;
    // Only nulls in this column: no key.
    if (file.nullValueCounts?.get(id) === file.recordCount) return false;
    const range = keyRange(file, id, 'long');
    return range === undefined || anyInRange(keys, range.lo, range.hi);
  });
}

/** A file's range of an int or long key column, from its bounds; undefined when it has none. */
export function keyRange(file: DataFile, fieldId: number, type: 'long' | 'int'): { lo: bigint; hi: bigint } | undefined {
  const lower = file.lowerBounds?.get(fieldId);
  const upper = file.upperBounds?.get(fieldId);
  if (lower === undefined || upper === undefined) return undefined;
  return { lo: BigInt(decodeValue(type, lower) as bigint | number), hi: BigInt(decodeValue(type, upper) as bigint | number) };
}

/** Whether the sorted keys hold a value in [lo, hi] (binary search). */
export function anyInRange(sorted: readonly bigint[], lo: bigint, hi: bigint): boolean {
  let a = 0;
  let b = sorted.length;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (sorted[mid]! < lo) a = mid + 1;
    else b = mid;
  }
  return a < sorted.length && sorted[a]! <= hi;
}
