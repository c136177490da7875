// The dates a night dumps, per wiki: a failed catch-up night must not lose the dates of the wikis
// it did not reach.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dueDates } from '../../src/pipeline/due-dates.js';
import type { DumpRun } from '../../src/pipeline/dump.js';

const run = (wiki: string, date: string, complete = true): DumpRun => ({ wiki, date, complete });

test('no runs yet: yesterday alone; caught up: nothing', () => {
  assert.deepEqual(dueDates([], '2026-11-05'), ['2026-11-05']);
  assert.deepEqual(dueDates([run('aawiki', '2026-11-05'), run('bbwiki', '2026-11-05')], '2026-11-05'), []);
});

test('a catch-up night that failed at its second wiki keeps every date due for the wikis it did not finish', () => {
  // 11-03 and 11-04 were due; aawiki did both, bbwiki failed on 11-03, ccwiki was never reached.
  const runs = [
    run('aawiki', '2026-11-02'), run('aawiki', '2026-11-03'), run('aawiki', '2026-11-04'),
    run('bbwiki', '2026-11-02'), run('bbwiki', '2026-11-03', false),
    run('ccwiki', '2026-11-02'),
  ];
  assert.deepEqual(dueDates(runs, '2026-11-05'), ['2026-11-03', '2026-11-04', '2026-11-05']);
});

test('incomplete folders after yesterday are not due; a gap in one wiki only is', () => {
  const runs = [run('aawiki', '2026-11-01'), run('aawiki', '2026-11-04'), run('bbwiki', '2026-11-02'), run('aawiki', '2026-11-06', false)];
  assert.deepEqual(dueDates(runs, '2026-11-04'), ['2026-11-03', '2026-11-04']);
});
