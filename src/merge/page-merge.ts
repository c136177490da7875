// Merge SQL for the pages table: one row per (wiki_id, page_id) with three watermark groups
// (state-schema PAGE_GROUPS). A move or delete changes one row here and no revision row. An
// undelete that gave the page a new id marks the old id's row `page_merged_into_page_id`, so the
// revisions filed under the old id follow the page without being rewritten (views.ts resolves it).

import { editedAfterDeleteSql, keyWinsSql, MAKES_REVISION_SQL } from './event-order.js';
import type { PageGroup } from './state-schema.js';

// The link's page_title is MediaWiki's getPrefixedDBkey(), which already starts with the interwiki
// prefix of an interwiki redirect (`wikt:Foo`); interwiki_prefix only says that it is one.
const REDIRECT_TARGET_SQL = `CASE WHEN page.is_redirect AND page.redirect_page_link IS NOT NULL
    THEN page.redirect_page_link.page_title END`;

// Kept so the dump can name a target in a User namespace as <siteinfo> does (events may give the
// gendered form); NULL for an interwiki target, whose namespace is another wiki's.
const REDIRECT_TARGET_NAMESPACE_SQL = `CASE WHEN page.is_redirect AND page.redirect_page_link IS NOT NULL AND page.redirect_page_link.interwiki_prefix IS NULL
    THEN page.redirect_page_link.namespace_id END`;

// A suppressed delete omits the performer (notes §1.3, T342487). [inferred: no explicit flag]
const SUPPRESSED_DELETE_SQL = "page_change_kind = 'delete' AND performer IS NULL";

const GROUPS: Record<PageGroup, { readonly carries: string; readonly columns: Readonly<Record<string, string>> }> = {
  page: {
    carries: "role = 'self'",
    columns: {
      page_namespace_id: 'page.namespace_id',
      page_title: 'page.page_title',
      page_is_redirect: 'page.is_redirect',
      page_latest_revision_id: 'revision.rev_id',
    },
  },
  // A visibility change says nothing of the target: EventBus builds its page from a page identity,
  // not a PageRecord, so is_redirect is false and the link absent (older hooks gave the flag
  // without the link). Nor does a redirect event that names no target (schema 1.0.0 has no link).
  redirect: {
    carries: "role = 'self' AND page_change_kind <> 'visibility_change' AND NOT coalesce(page.is_redirect AND page.redirect_page_link IS NULL, false)",
    columns: {
      page_redirect_target: REDIRECT_TARGET_SQL,
      page_redirect_target_namespace_id: REDIRECT_TARGET_NAMESPACE_SQL,
    },
  },
  deletion: {
    // A create after a delete is the page id reused (MariaDB may hand out a deleted page's id
    // again): the page lives anew, as a page never deleted (NULL), and views.ts hides the
    // revisions of its earlier life by the create's revision id, which the key holds.
    carries: "role = 'self' AND page_change_kind IN ('create', 'delete', 'undelete')",
    columns: {
      page_is_deleted: "CASE WHEN page_change_kind <> 'create' THEN page_change_kind = 'delete' END",
      page_is_suppressed: `CASE WHEN page_change_kind <> 'create' THEN ${SUPPRESSED_DELETE_SQL} END`,
    },
  },
  merge: {
    carries: "role = 'alias'",
    columns: { page_merged_into_page_id: 'page.page_id' },
  },
};

const GROUP_NAMES = Object.keys(GROUPS) as PageGroup[];
const COLUMN_ORDER = [
  'page_namespace_id', 'page_title', 'page_is_redirect', 'page_redirect_target', 'page_latest_revision_id',
  'page_is_deleted', 'page_is_suppressed', 'page_merged_into_page_id', 'page_redirect_target_namespace_id',
];

/**
 * Delta per (wiki_id, page_id) from `source` (events-table columns plus the key `k` and rank `r`):
 * per group the best event by rank among creates and edits and among the other kinds, then the
 * better of the two by keyWinsSql, which the rank alone cannot order (event-order.ts).
 */
export function pageDeltaSql(source: string): string {
  const sides = [['e', MAKES_REVISION_SQL], ['o', `NOT (${MAKES_REVISION_SQL})`]] as const;
  const parts = GROUP_NAMES.flatMap((group) => {
    const { carries, columns } = GROUPS[group];
    const struct = Object.entries(columns).map(([name, expr]) => `${name}: ${expr}`).join(', ');
    return sides.flatMap(([side, kinds]) => [
      `arg_max({${struct}}, r) FILTER (WHERE ${carries} AND ${kinds}) AS g${side}_${group}`,
      `arg_max(k, r) FILTER (WHERE ${carries} AND ${kinds}) AS k${side}_${group}`,
    ]);
  });
  const best = GROUP_NAMES.flatMap((group) => {
    const editWins = keyWinsSql(`ke_${group}`, `ko_${group}`);
    return [`CASE WHEN ${editWins} THEN ge_${group} ELSE go_${group} END AS g_${group}`, `CASE WHEN ${editWins} THEN ke_${group} ELSE ko_${group} END AS k_${group}`];
  });
  return `SELECT wiki_id, page_id, ${best.join(', ')}, k_suppression
FROM (
SELECT wiki_id, pid AS page_id, ${parts.join(', ')},
  min(k) FILTER (WHERE role = 'self' AND ${SUPPRESSED_DELETE_SQL}) AS k_suppression
FROM (
  SELECT *, page.page_id AS pid, 'self' AS role FROM ${source} WHERE page.page_id IS NOT NULL
  UNION ALL
  SELECT *, prior_state.page.page_id AS pid, 'alias' AS role FROM ${source}
  WHERE page_change_kind = 'undelete' AND prior_state.page.page_id IS NOT NULL AND prior_state.page.page_id <> page.page_id
) GROUP BY wiki_id, pid)`;
}

/**
 * A row merged before the target had its own key got it with its page group's. A row written
 * since always has one: '' (below every key) while no event has named its target.
 */
const storedKey = (group: PageGroup): string => (group === 'redirect' ? 'coalesce(x.row_redirect_key, x.row_page_key)' : `x.row_${group}_key`);
const keptKey = (group: PageGroup): string => (group === 'redirect' ? `CASE WHEN x.wiki_id IS NULL THEN '' ELSE ${storedKey(group)} END` : storedKey(group));

function wins(group: PageGroup): string {
  return keyWinsSql(`d.k_${group}`, storedKey(group));
}

/**
 * The stored row's earliest suppressed delete: a row merged before the column existed has it only
 * while its deletion columns still say suppressed, and keeps it from the write that replaces them.
 */
const STORED_SUPPRESSION_SQL = 'coalesce(x.row_suppression_key, CASE WHEN x.page_is_deleted AND x.page_is_suppressed THEN x.row_deletion_key END)';

/**
 * A suppressed delete earlier than the stored one: the least key, so that the order events come
 * in, and merging one again, change nothing (keyWinsSql would flip between two tied keys).
 */
const EARLIER_SUPPRESSION_SQL = `(d.k_suppression IS NOT NULL AND (${STORED_SUPPRESSION_SQL} IS NULL OR d.k_suppression < ${STORED_SUPPRESSION_SQL}))`;

/** Rows to write (PAGES_SCHEMA's columns, by name, plus `_file`, `_pos` of the row they replace). */
export function pageMergeSql(delta: string, existing: string): string {
  const columns = ['d.wiki_id AS wiki_id', 'd.page_id AS page_id'];
  for (const column of COLUMN_ORDER) {
    const group = GROUP_NAMES.find((g) => column in GROUPS[g].columns)!;
    columns.push(`CASE WHEN ${wins(group)} THEN d.g_${group}.${column} ELSE x.${column} END AS ${column}`);
  }
  for (const group of GROUP_NAMES) columns.push(`CASE WHEN ${wins(group)} THEN d.k_${group} ELSE ${keptKey(group)} END AS row_${group}_key`);
  columns.push(`CASE WHEN ${EARLIER_SUPPRESSION_SQL} THEN d.k_suppression ELSE ${STORED_SUPPRESSION_SQL} END AS row_suppression_key`);
  // A suppressed delete that loses every group (one delivered after a create reused the id) still writes its key.
  return `SELECT ${columns.join(',\n  ')},
  x._file AS _file, x._pos AS _pos
FROM ${delta} d LEFT JOIN ${existing} x ON x.wiki_id = d.wiki_id AND x.page_id = d.page_id
WHERE ${GROUP_NAMES.map(wins).join(' OR ')} OR ${EARLIER_SUPPRESSION_SQL}`;
}

/**
 * `(wiki_id, key)` of merged page rows (the relation `merged`) still deleted though a create or an
 * edit was saved on them in a later second: their undelete's event was probably lost. They stay
 * deleted, since a wrong guess would publish deleted content; the merge names them for a person.
 */
export function deletedThenEditedSql(merged: string): string {
  return `SELECT wiki_id, page_id AS key FROM ${merged} WHERE coalesce(page_is_deleted AND ${editedAfterDeleteSql('row_page_key', 'row_deletion_key')}, false)`;
}
