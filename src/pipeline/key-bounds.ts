// File pruning by key for the merge: whether a data file of a wiki-partitioned table (the wiki is
// its first partition value) could hold one of the wiki's keys in one of the key columns, by its
// bounds. A file that does not say (no bounds) may.

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
    const lower = file.lowerBounds?.get(id);
    const upper = file.upperBounds?.get(id);
    if (lower === undefined || upper === undefined) return true;
    return anyInRange(keys, decodeValue('long', lower) as bigint, decodeValue('long', upper) as bigint);
  });
}

/** Whether the sorted keys hold a value in [lo, hi] (binary search). */
function anyInRange(sorted: readonly bigint[], lo: bigint, hi: bigint): boolean {
  let a = 0;
  let b = sorted.length;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (sorted[mid]! < lo) a = mid + 1;
    else b = mid;
  }
  return a < sorted.length && sorted[a]! <= hi;
}
