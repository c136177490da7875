// The merge source a state table records: the events snapshot whose rows it holds, found by
// walking back past the snapshots that change no row, and only those a summary proves so.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Snapshot } from '../../src/iceberg/spec/snapshot.js';
import { rowsSnapshotOf } from '../../src/pipeline/merge-source.js';

/** A history of snapshots 1..n, each the parent of the next, with the given summaries. */
function history(...summaries: Array<Snapshot['summary']>): { snapshot(id: bigint): Snapshot | undefined } {
  const snapshots = new Map(summaries.map((summary, i) => {
    const id = BigInt(i + 1);
    return [id, { snapshotId: id, ...(i === 0 ? {} : { parentSnapshotId: id - 1n }), sequenceNumber: id, timestampMs: i, manifestList: `m${id}`, summary }];
  }));
  return { snapshot: (id) => snapshots.get(id) };
}

const append = { operation: 'append', properties: { 'added-data-files': '1', 'total-data-files': '1' } } as const;
const compaction = { operation: 'replace', properties: { 'added-data-files': '1', 'deleted-data-files': '2', 'total-data-files': '1' } } as const;
const offsetsOnly = { operation: 'overwrite', properties: { 'total-data-files': '1', 'total-records': '10' } } as const;

test('past compactions and offsets-only commits to the snapshot that brought the rows', () => {
  assert.equal(rowsSnapshotOf(history(append, append, compaction, offsetsOnly, offsetsOnly), 5n), 2n);
  assert.equal(rowsSnapshotOf(history(append, append), 2n), 2n);
});

test('a commit that changes files stops the walk: a forced replay deleting rows, or removing delete files', () => {
  const replay = { operation: 'overwrite', properties: { 'added-delete-files': '1', 'total-data-files': '1' } } as const;
  assert.equal(rowsSnapshotOf(history(append, replay, offsetsOnly), 3n), 2n);
  const undoDeletes = { operation: 'overwrite', properties: { 'removed-delete-files': '1', 'total-data-files': '1' } } as const;
  assert.equal(rowsSnapshotOf(history(append, undoDeletes), 2n), 2n);
});

test('a summary that does not count files (no totals, as another engine may write) is taken as changing rows', () => {
  // Zero counts are omitted from summaries: without totals, "no added files" may only mean "not counted".
  const uncounted = { operation: 'overwrite', properties: {} } as const;
  assert.equal(rowsSnapshotOf(history(append, uncounted, offsetsOnly), 3n), 2n);
  assert.equal(rowsSnapshotOf(history(append, uncounted), 2n), 2n);
});

test('the walk stops at an expired parent, and an unknown snapshot is its own source', () => {
  const expired = history(append, append, offsetsOnly);
  const withoutParent = { snapshot: (id: bigint) => (id === 2n ? undefined : expired.snapshot(id)) };
  assert.equal(rowsSnapshotOf(withoutParent, 3n), 3n);
  assert.equal(rowsSnapshotOf(expired, 9n), 9n);
});
