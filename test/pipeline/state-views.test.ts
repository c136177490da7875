// Which views a query binds: every view its SQL can refer to, with the views those are built on,
// and none it cannot (each costs manifest reads and DuckDB's binding at every `mwlake query`).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { viewsUsedBy } from '../../src/pipeline/state-views.js';

const used = (sql: string): string[] => [...viewsUsedBy(sql)].sort();

test('a view named in the SQL is bound with the views it is built on', () => {
  assert.deepEqual(used('SELECT count(*) FROM revisions_raw'), ['revisions_raw']);
  assert.deepEqual(used('SELECT * FROM pages'), ['pages']);
  assert.deepEqual(used('select * from "Current" limit 1'), ['current', 'pages', 'revisions', 'revisions_raw']);
  assert.deepEqual(used('SELECT * FROM revisions'), ['pages', 'revisions', 'revisions_raw']);
  assert.deepEqual(used('SELECT count(*) FROM events e JOIN main.pages p USING (wiki_id)'), ['events', 'pages']);
});

test('a name right after AS is an alias, not a view; anywhere else it counts', () => {
  assert.deepEqual(used('SELECT wiki_id, count(*) AS revisions FROM revisions_raw GROUP BY 1'), ['revisions_raw']);
  assert.deepEqual(used('SELECT count(*) AS pages, max(x) as\n  current FROM revisions_raw'), ['revisions_raw']);
  // A CTE named like a view, used later: binding the view too is harmless.
  assert.deepEqual(used('WITH pages AS (SELECT 1) SELECT * FROM pages'), ['pages']);
  // Parts of longer names are not the view.
  assert.deepEqual(used('SELECT current_date, pages_total FROM revisions_raw'), ['revisions_raw']);
  assert.deepEqual(used('SELECT 1'), []);
});
