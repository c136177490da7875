// The revisions view over hand-made state rows, for what the merge cannot make any more: keys of
// the layout before the current one (keyTimeSql reads no time from them).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { revisionsViewSql } from '../../src/merge/views.js';

const at = (hms: string) => `2026-11-01T${hms}.000000Z`;
/** A key of the current layout: time, kind, Kafka time, revision, meta.id. */
const key = (time: string, revision: number) => `'${time}|1|${time}|${String(revision).padStart(20, '0')}|m'`;
const OLD_KEY = "'2026-11-01T11:30:00Z|m'";

test('an undelete hop whose key has the old layout counts as of unknown time for every revision that takes it, not as the hop before it', async () => {
  const db = await openDuckDb();
  try {
    // Page 1 restored into 2 at 11:00; 2 restored into 3 (old key); page id 3 then reused at 12:00.
    await db.run(`CREATE TABLE pages_raw AS SELECT * FROM (VALUES
      (1, 2, true, false, ${key(at('11:00:00'), 10)}, ${key(at('10:30:00'), 10)}),
      (2, 3, true, false, ${OLD_KEY}, ${key(at('11:20:00'), 20)}),
      (3, NULL, NULL, NULL, NULL, ${key(at('12:00:00'), 30)})
    ) t(page_id, page_merged_into_page_id, page_is_deleted, page_is_suppressed, row_merge_key, row_deletion_key)`);
    await db.run(`ALTER TABLE pages_raw ADD COLUMN wiki_id VARCHAR DEFAULT 'w'`);
    for (const column of ['page_namespace_id INTEGER DEFAULT 0', "page_title VARCHAR DEFAULT 'T'", 'page_is_redirect BOOLEAN DEFAULT false', 'page_redirect_target VARCHAR', 'page_redirect_target_namespace_id INTEGER', 'row_suppression_key VARCHAR']) {
      await db.run(`ALTER TABLE pages_raw ADD COLUMN ${column}`);
    }
    await db.run(`CREATE TABLE revisions_raw AS SELECT 'w' AS wiki_id, * FROM (VALUES
      (10, 1, TIMESTAMPTZ '2026-11-01 09:00:00+00'),
      (20, 2, TIMESTAMPTZ '2026-11-01 10:00:00+00'),
      (30, 3, TIMESTAMPTZ '2026-11-01 12:00:00+00')
    ) t(revision_id, page_id, revision_dt)`);
    for (const column of ['revision_content_is_visible BOOLEAN DEFAULT true', 'user_is_visible BOOLEAN DEFAULT true', 'revision_comment_is_visible BOOLEAN DEFAULT true', 'row_visibility_key VARCHAR']) {
      await db.run(`ALTER TABLE revisions_raw ADD COLUMN ${column}`);
    }
    const rows = await db.all<{ revision_id: number; page_id: number }>(`SELECT revision_id, page_id FROM (${revisionsViewSql('revisions_raw', 'pages_raw')}) ORDER BY revision_id`);
    assert.deepEqual(rows.map((r) => [Number(r.revision_id), Number(r.page_id)]), [[10, 3], [20, 3], [30, 3]], 'revisions 10 and 20 reached page 3 over the same hop: both show, or neither');
  } finally {
    await db.close();
  }
});
