// Regressions of the merge's event order and of undeletes, each a scenario found in review:
// page state ranks every kind at its action time (`dt`); a selective undelete brings back only
// what it restored; same-second ties follow Kafka order (producer timestamp, then the offset
// within one partition), never the revision id or offsets of different topics; and a create or
// an edit loses a same-second tie against a statement made about its revision since.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ev, PAGES, REVS, runBatches } from './page-change-harness.js';


test('an edit made between a move (dt) and its meta.dt sets the page: every kind ranks at its dt', { timeout: 120_000 }, async () => {
  const create = ev({ kind: 'create', metaDt: '2026-11-01T10:00:00Z', page: 1, rev: 10, revAt: '2026-11-01T10:00:00Z', title: 'A' });
  // The real move example has meta.dt 4 s after dt.
  const move = ev({ kind: 'move', dt: '2026-11-01T10:05:00Z', metaDt: '2026-11-01T10:05:04Z', page: 1, rev: 11, parent: 10, revAt: '2026-11-01T10:05:00Z', title: 'B', priorTitle: 'A' });
  const edit = ev({ kind: 'edit', metaDt: '2026-11-01T10:05:02Z', page: 1, rev: 12, parent: 11, revAt: '2026-11-01T10:05:02Z', title: 'B', redirectTo: 'C' });
  for (const [name, batches] of [['one merge', [[create, move, edit]]], ['two merges', [[create, move], [edit]]], ['edit first', [[create, edit], [move]]]] as const) {
    const { pages } = await runBatches(batches, { pages: PAGES });
    assert.deepEqual(pages, [{ page_id: 1, page_title: 'B', ns: 0, redir: true, target: 'C', latest: 12, deleted: null, alias: null }], name);
  }
});

test('a create delivered late does not undo a suppression made in the second the revision was made', { timeout: 120_000 }, async () => {
  const hide = ev({ kind: 'visibility_change', metaDt: '2026-11-01T10:00:00Z', page: 8, rev: 80, revAt: '2026-11-01T10:00:00Z', visible: [false, false, true] });
  const lateCreate = ev({ kind: 'create', dt: '2026-11-01T10:00:00Z', metaDt: '2026-11-10T10:00:00Z', page: 8, rev: 80, revAt: '2026-11-01T10:00:00Z' });
  for (const [name, batches] of [['one merge', [[hide, lateCreate]]], ['two merges', [[hide], [lateCreate]]]] as const) {
    const { revs } = await runBatches(batches, { revs: REVS });
    assert.deepEqual((revs as { rev: number; cv: boolean; uv: boolean; mv: boolean }[]).map((r) => [r.rev, r.cv, r.uv, r.mv]), [[80, false, false, true]], name);
  }
});
