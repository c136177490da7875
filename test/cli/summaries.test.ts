// The drain's human summary: the accounting identity, bytes, files, the snapshot, per partition
// the next offset and the lag, and events written without content.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drainSummary } from '../../src/cli/summaries.js';

test('the drain summary shows the accounting and every partition', () => {
  const text = drainSummary({
    consumed: 110, written: 100, errored: 5, filtered: 3, deduplicated: 2, withoutContent: 4, bytes: 2_500_000, files: 2, snapshotId: '42', durationMs: 1500,
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
      '  4 written without content_body (dumped as hidden content): is the job reading mediawiki.page_change.v1?',
      '',
    ].join('\n'),
  );
});

test('with the legacy visibility stream, its drain follows in the same form', () => {
  const r = { consumed: 3, written: 2, errored: 1, filtered: 0, deduplicated: 0, withoutContent: 0, bytes: 3000, files: 1, durationMs: 100, lag: { 'eqiad.v:0': '0' }, offsets: { 'eqiad.v': { '0': '3' } } };
  const text = drainSummary({ ...r, consumed: 0, written: 0, errored: 0, files: 0, lag: {}, offsets: {}, visibility: { ...r, snapshotId: '7' } });
  assert.match(text, /\nrevision visibility changes: 3 consumed = 2 written \+ 1 errored \+ 0 filtered \(canaries\) \+ 0 deduplicated\n  0\.0 MB in 0\.1 s, 1 data file\(s\), snapshot 7\n  partition  next offset  lag\n  eqiad\.v:0            3  0\n$/);
});
