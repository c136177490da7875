// A delete or a move of a page with many revisions rewrites about one row, as for a page with one
// revision: page state lives in state.pages, and the revisions view joins it at read time.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openDuckDb } from '../../src/duckdb/connection.js';
import type { PageChangeEvent } from '../../src/events/page-change.js';
import { bindStateViews } from '../../src/pipeline/state-views.js';
import { appendBatch, EVENTS_NAME, EVENTS_NS, generatedEvents, merge, warehouseAt } from './merge-fixture.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-merge-cost-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Mutable = { -readonly [K in keyof PageChangeEvent]: PageChangeEvent[K] } & Record<string, unknown>;

test('deleting or moving the page with the most revisions rewrites one page row and at most one revision row', { timeout: 300_000 }, async () => {
  const events = generatedEvents(29, 1500);
  const warehouse = warehouseAt(join(dir, 'w'));
  await appendBatch(warehouse, events);
  await merge(warehouse);

  // The live page with the most revisions, and its newest edit as the template of our events.
  const db0 = await openDuckDb();
  let bigKey: string;
  try {
    await bindStateViews(db0, warehouse, { namespace: EVENTS_NS, name: EVENTS_NAME });
    const [top] = await db0.all<{ k: string; n: bigint }>(`SELECT wiki_id || ':' || page_id AS k, count(*) AS n FROM revisions GROUP BY ALL ORDER BY n DESC, k LIMIT 1`);
    bigKey = top!.k;
  } finally {
    await db0.close();
  }
  const latest = events
    .filter((e) => `${e.wiki_id}:${String(e.page.page_id)}` === bigKey && (e.page_change_kind === 'edit' || e.page_change_kind === 'create'))
    .sort((a, b) => String(a.meta.dt).localeCompare(String(b.meta.dt)))
    .at(-1)!;
  const later = (e: PageChangeEvent, minutes: number) => new Date(Date.parse(String(e.meta.dt)) + minutes * 60_000).toISOString();

  const count = async () => {
    const db = await openDuckDb();
    try {
      await bindStateViews(db, warehouse, { namespace: EVENTS_NS, name: EVENTS_NAME });
      const [r] = await db.all<{ n: bigint; t: string | null }>(`SELECT count(*) AS n, any_value(page_title) AS t FROM revisions WHERE wiki_id || ':' || page_id = '${bigKey}'`);
      return { n: Number(r!.n), title: r!.t };
    } finally {
      await db.close();
    }
  };
  // Give it 300 more revisions, so the page is big.
  const maxRev = Math.max(...events.map((e) => Number(e.revision?.rev_id ?? 0)));
  const edits = Array.from({ length: 300 }, (_, i) => {
    const e = structuredClone(latest) as Mutable;
    const at = later(latest, i + 1);
    e['meta'] = { ...latest.meta, id: randomUUID(), dt: at };
    e['dt'] = at;
    e['revision'] = { ...latest.revision, rev_id: maxRev + i + 1, rev_parent_id: i === 0 ? latest.revision.rev_id : maxRev + i, rev_dt: at };
    return e as unknown as PageChangeEvent;
  });
  await appendBatch(warehouse, edits);
  await merge(warehouse);
  const before = (await count()).n;
  assert.ok(before >= 300, `the page has ${before} revisions`);

  // A move: new title, same page (at its dt, the move time, as the merge ranks it).
  const move = { ...structuredClone(latest), page_change_kind: 'move', changelog_kind: 'update', dt: later(latest, 600), meta: { ...latest.meta, id: randomUUID(), dt: later(latest, 600) } } as Mutable;
  (move['page'] as { page_title: string }).page_title = 'Moved_by_the_cost_test';
  move['prior_state'] = { page: { page_title: latest.page.page_title, namespace_id: latest.page.namespace_id } };
  await appendBatch(warehouse, [move as unknown as PageChangeEvent]);
  const moved = await merge(warehouse);
  const [movedRevisions, movedPages] = moved.tables;
  assert.ok(movedRevisions!.rowsWritten <= 1 && movedRevisions!.rowsReplaced <= 1, JSON.stringify(movedRevisions));
  assert.equal(movedPages!.rowsWritten, 1);
  const afterMove = await count();
  assert.equal(afterMove.title, 'Moved_by_the_cost_test', 'every revision shows the new title');
  assert.equal(afterMove.n, before);

  // A delete: every revision leaves the views.
  const del = { ...structuredClone(move), page_change_kind: 'delete', changelog_kind: 'delete', dt: later(latest, 700), meta: { ...latest.meta, id: randomUUID(), dt: later(latest, 700) } } as Mutable;
  delete del['prior_state'];
  await appendBatch(warehouse, [del as unknown as PageChangeEvent]);
  const deleted = await merge(warehouse);
  const [delRevisions, delPages] = deleted.tables;
  assert.ok(delRevisions!.rowsWritten <= 1 && delRevisions!.rowsReplaced <= 1, JSON.stringify(delRevisions));
  assert.equal(delPages!.rowsWritten, 1);
  assert.equal((await count()).n, 0);
});
