// Compaction's lone files: a group file no delete applies to, that kept files' ranges separate from
// every other file of the group, leaves the group (a rewrite would write it again at every run);
// one a kept file's range cuts into stays, since the rewrite's fences split it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RewriteGroup } from '../../src/iceberg/maintenance/compaction-plan.js';
import type { PlannedFile } from '../../src/iceberg/scan/plan.js';
import { encodeValue } from '../../src/iceberg/spec/bounds.js';
import { DataFileContent } from '../../src/iceberg/spec/manifest.js';
import { withoutLoneFiles, type RangeKey } from '../../src/pipeline/maintenance.js';

const KEY: RangeKey = { name: 'revision_id', fieldId: 2, type: 'long' };

function file(name: string, lo: bigint, hi: bigint, content = DataFileContent.Data, referencedDataFile?: string): PlannedFile {
  return {
    specId: 0,
    dataSequenceNumber: 1n,
    file: {
      content,
      filePath: `file:///wh/${name}.parquet`,
      fileFormat: 'PARQUET',
      partition: ['enwiki'],
      recordCount: 10,
      fileSizeInBytes: 1000,
      lowerBounds: new Map([[2, encodeValue('long', lo)]]),
      upperBounds: new Map([[2, encodeValue('long', hi)]]),
      ...(referencedDataFile === undefined ? {} : { referencedDataFile }),
    },
  };
}

function group(dataFiles: PlannedFile[], keptFiles: PlannedFile[], deleteFiles: PlannedFile[] = []): RewriteGroup {
  return { partition: ['enwiki'], dataFiles, deleteFiles, deadDeleteFiles: [], keptFiles, inputBytes: 0, inputRows: 0 };
}

const names = (g: RewriteGroup | undefined) => g?.dataFiles.map((f) => f.file.filePath.replace(/^.*\/|\.parquet$/g, ''));

test('files that kept files separate from the rest of the group leave it; a group left too small is not rewritten', () => {
  const kept = [file('k1', 300n, 399n)];
  assert.equal(withoutLoneFiles(group([file('a', 200n, 250n), file('b', 400n, 450n)], kept), KEY, 1), undefined);
  // Neighbours with no kept file between them are rewritten together.
  assert.deepEqual(names(withoutLoneFiles(group([file('a', 200n, 250n), file('b', 260n, 290n), file('c', 400n, 450n)], kept), KEY, 1)), ['a', 'b']);
  assert.equal(withoutLoneFiles(group([file('a', 200n, 250n), file('b', 260n, 290n), file('c', 400n, 450n)], kept), KEY, 3), undefined, 'two files left, three needed');
});

test('a file a delete applies to, or one a kept range cuts into, stays in the group', () => {
  const kept = [file('k1', 100n, 199n), file('k2', 1000n, 1999n)];
  const del = file('d', 0n, 0n, DataFileContent.PositionDeletes, 'file:///wh/a.parquet');
  assert.deepEqual(names(withoutLoneFiles(group([file('a', 200n, 250n), file('b', 2000n, 2100n)], kept, [del]), KEY, 1)), ['a']);
  // n spans k2's range: the rewrite splits it at k2's bounds, so it is not left as it is.
  assert.deepEqual(names(withoutLoneFiles(group([file('s', 10n, 20n), file('n', 500n, 5000n)], kept), KEY, 1)), ['n']);
});
