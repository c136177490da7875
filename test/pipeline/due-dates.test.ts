// The dates a night dumps, per wiki: a failed catch-up night must not lose the dates of the wikis
// it did not reach.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DRAIN_OFFSETS_LEFT_PROPERTY } from '../../src/events/events-table.js';
import { VISIBILITY_EVENTS_SCHEMA, VISIBILITY_EVENTS_SPEC } from '../../src/events/visibility-change.js';
import { loadConfig } from '../../src/pipeline/config.js';
import { drainShortfalls } from '../../src/pipeline/drain-shortfall.js';
import { datesLeftBehind, dueDates, leftBehindWarning } from '../../src/pipeline/due-dates.js';
import { warehouseOf } from '../../src/pipeline/warehouse.js';
import { inTempDir } from '../helpers/temp-dir.js';
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

test('the drain shortfall counts the streams the job drains: a visibility table left capped by a stream taken off the job holds nothing back', async () => {
  await inTempDir('mwlake-shortfall-', async (dir) => {
    const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'shortfall', MWLAKE_WAREHOUSE: dir, MWLAKE_VISIBILITY_TOPICS: 'eqiad.mediawiki.revision-visibility-change' });
    const warehouse = warehouseOf(config);
    const visibility = await warehouse.createTable('events', 'revision_visibility_change', { schema: VISIBILITY_EVENTS_SCHEMA, spec: VISIBILITY_EVENTS_SPEC });
    await visibility.commit({ operation: 'append', summary: { [DRAIN_OFFSETS_LEFT_PROPERTY]: '5' } });
    assert.deepEqual(await drainShortfalls(config, warehouse), [{ table: 'events.revision_visibility_change', offsetsLeft: 5 }]);
    const withoutStream = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'shortfall', MWLAKE_WAREHOUSE: dir });
    assert.deepEqual(await drainShortfalls(withoutStream, warehouse), []);
  });
});

test('an explicit date leaves behind the due dates after each wiki\'s newest folder and before it, not incomplete folders', () => {
  // enwiki and dewiki done up to 12-07; a night missed (12-08), and 12-05 failed for dewiki.
  const runs: DumpRun[] = [run('enwiki', '2025-12-07', true), run('dewiki', '2025-12-05', false), run('dewiki', '2025-12-07', true)];
  assert.deepEqual(dueDates(runs, '2025-12-09'), ['2025-12-05', '2025-12-08', '2025-12-09']);
  // Writing 12-09 alone makes it each wiki's newest folder: 12-08 is due no more; 12-05 stays due.
  const left = datesLeftBehind(runs, '2025-12-09', ['2025-12-09']);
  assert.deepEqual(left, [{ wiki: 'dewiki', dates: ['2025-12-08'] }, { wiki: 'enwiki', dates: ['2025-12-08'] }]);
  assert.equal(
    leftBehindWarning('dump', ['2025-12-09'], left),
    'dump dumps 2025-12-09 only; 1 earlier due date (2025-12-08) will not be due again once it is written: dump them with mwlake dump --from 2025-12-08 --to 2025-12-08 --wiki dewiki,enwiki',
  );
  // Wikis behind by different dates get a command each, so that none rewrites a complete date.
  const apart = datesLeftBehind([run('enwiki', '2025-12-07'), run('dewiki', '2025-12-05')], '2025-12-09', ['2025-12-09']);
  assert.match(leftBehindWarning('nightly --date', ['2025-12-09'], apart), /3 earlier due dates \(2025-12-06 to 2025-12-08\) .* mwlake dump --from 2025-12-06 --to 2025-12-08 --wiki dewiki; mwlake dump --from 2025-12-08 --to 2025-12-08 --wiki enwiki$/);
  assert.deepEqual(datesLeftBehind(runs, '2025-12-09', ['2025-12-08', '2025-12-09']), []);
  // Regenerating an old date leaves nothing behind; nor does a first run.
  assert.deepEqual(datesLeftBehind(runs, '2025-12-09', ['2025-12-01']), []);
  assert.deepEqual(datesLeftBehind([], '2025-12-09', ['2025-12-09']), []);
});
