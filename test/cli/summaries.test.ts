// The drain's human summary: the accounting identity, bytes, files, the snapshot, and per
// partition the next offset and the lag.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drainSummary } from '../../src/cli/summaries.js';

test('the drain summary shows the accounting and every partition', () => {
  const text = drainSummary({
    consumed: 110, written: 100, errored: 5, filtered: 3, deduplicated: 2, bytes: 2_500_000, files: 2, snapshotId: '42', durationMs: 1500,
    lag: { 'eqiad.s:0': '0', 'codfw.s:1': '7' },
    offsets: { 'eqiad.s': { '0': '60' }, 'codfw.s': { '1': '50' } },
  });
  assert.equal(
    text,
    [
      'drain: 110 consumed = 100 written + 5 errored + 3 filtered (canaries) + 2 deduplicated',
      '  2.5 MB in 1.5 s, 2 data file(s), snapshot 42',
      '  partition  next offset  lag',
      '  codfw.s:1           50  7',
      '  eqiad.s:0           60  0',
      '',
    ].join('\n'),
  );
});
