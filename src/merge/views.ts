// The read side of the state tables, as SQL over two relations bound to one consistent pair of
// snapshots (`revisions_raw`, `pages_raw`): revisions resolved to their page (following an
// undelete's new page id), deleted pages and revisions an undelete left deleted out, and the
// latest revision per page.

import { keyRevisionIdSql, keyTimeSql, keyTimeTextSql } from './event-order.js';

/**
 * Revisions of live pages with the page's current fields; the relation `revisions` in queries.
 * Undelete aliases are followed to the end: a page restored into another page that is later
 * deleted and restored into a third moves with it (depth bounded, in case of a cycle).
 *
 * An undelete may restore only some revisions, and its event carries only the page's current
 * revision afterwards (notes §1.3, §3.4), the newest restored one: revisions that existed before
 * the undelete and are newer than it (higher id, older than the undelete's dt) stayed deleted.
 * Which older ones stayed deleted no event says; they come back. The page row's deletion key
 * holds the undelete's dt and revision (event-order.ts), so this costs no revision rewrite.
 *
 * A page id reused after a delete: the create that reused it holds the deletion key (with
 * page_is_deleted NULL). The revisions filed under the id before it, of the deleted page, stay out,
 * or follow an undelete that restored them under another id (MediaWiki gives a restored page a new
 * id when its own is in use); the new page's revisions stay with it. So do revisions an undelete
 * merged into the deleted page from a third id: an alias whose hop into a page came before that
 * page's create reached the deleted life, not the new page's, and a hop out of a page is followed
 * only by revisions that were there before it (each hop's time is its undelete's, row_merge_key;
 * a revision saved after it stays, as an undelete restores only what existed).
 * Once the new page is deleted and restored in turn (or an undelete merges into it) its create is
 * no longer known and they all come back (MediaWiki restores by title, so with the title unchanged they do).
 * (The alias join keeps to equalities: any other condition in it made DuckDB join by nested loop.)
 *
 * A suppressed delete archives every revision suppressed in full. MediaWiki restores such an
 * archive as a page of its own only when the admin lifts the suppression (UndeletePage refuses
 * to make a revision with hidden text current), but into an existing page of its title as it is
 * (unless lifted, which no event says): revisions that reach a page through an alias from a page
 * a suppressed delete left show hidden in full, unless a visibility change set them since; also
 * once that page id lives again (SUPPRESSED_MERGE_SQL).
 */
export function revisionsViewSql(revisionsRaw: string, pagesRaw: string): string {
  return `WITH RECURSIVE alias_chain(wiki_id, page_id, target, depth, created_revision_id, suppressed_at, suppressed_before, arrived_at, left_at) AS (
  SELECT wiki_id, page_id, page_merged_into_page_id, 1, ${CREATED_REVISION_SQL}, ${SUPPRESSED_MERGE_SQL('')}, ${SUPPRESSED_BEFORE_SQL('')}, ${keyTimeTextSql('row_merge_key')}, ${keyTimeSql('row_merge_key')}
  FROM ${pagesRaw} WHERE page_merged_into_page_id IS NOT NULL
  UNION ALL
  SELECT c.wiki_id, c.page_id, p.page_merged_into_page_id, c.depth + 1, c.created_revision_id, greatest(c.suppressed_at, ${SUPPRESSED_MERGE_SQL('p.')}),
    greatest(c.suppressed_before, ${SUPPRESSED_BEFORE_SQL('p.')}), ${keyTimeTextSql('p.row_merge_key')}, c.left_at
  FROM alias_chain c JOIN ${pagesRaw} p ON p.wiki_id = c.wiki_id AND p.page_id = c.target
  WHERE p.page_merged_into_page_id IS NOT NULL AND c.depth < ${MAX_ALIAS_DEPTH}
    AND NOT coalesce(${keyTimeTextSql('p.row_merge_key')} < c.arrived_at, false)
), alias AS (
  SELECT wiki_id, page_id, arg_max(target, depth) AS page_merged_into_page_id, any_value(created_revision_id) AS created_revision_id,
    max(suppressed_at) AS suppressed_at, max(suppressed_before) AS suppressed_before, arg_max_null(arrived_at, depth) AS arrived_at, any_value(left_at) AS left_at
  FROM alias_chain GROUP BY wiki_id, page_id
)
SELECT r.* EXCLUDE (page_id) REPLACE (
    CASE WHEN ${KEPT_SUPPRESSED_SQL} THEN false ELSE r.revision_content_is_visible END AS revision_content_is_visible,
    CASE WHEN ${KEPT_SUPPRESSED_SQL} THEN false ELSE r.user_is_visible END AS user_is_visible,
    CASE WHEN ${KEPT_SUPPRESSED_SQL} THEN false ELSE r.revision_comment_is_visible END AS revision_comment_is_visible),
  p.page_id AS page_id, r.page_id AS filed_page_id,
  p.page_namespace_id, p.page_title, p.page_is_redirect, p.page_redirect_target, p.page_redirect_target_namespace_id
FROM ${revisionsRaw} r
LEFT JOIN alias ON alias.wiki_id = r.wiki_id AND alias.page_id = r.page_id
JOIN (
  SELECT *, CASE WHEN NOT page_is_deleted THEN ${keyRevisionIdSql('row_deletion_key')} END AS restored_revision_id,
    CASE WHEN NOT page_is_deleted THEN ${keyTimeSql('row_deletion_key')} END AS restored_at,
    ${CREATED_REVISION_SQL} AS created_revision_id, ${CREATED_AT_SQL} AS created_at
  FROM ${pagesRaw}
) p ON p.wiki_id = r.wiki_id AND p.page_id = CASE WHEN ${STAYS_SQL} THEN r.page_id ELSE coalesce(alias.page_merged_into_page_id, r.page_id) END
WHERE r.revision_dt IS NOT NULL AND p.page_title IS NOT NULL AND NOT coalesce(p.page_is_deleted, false)
  AND NOT coalesce(r.revision_id > p.restored_revision_id AND r.revision_dt < p.restored_at, false)
  AND NOT coalesce(r.page_id = p.page_id AND r.revision_id < p.created_revision_id, false)
  AND NOT coalesce(r.page_id <> p.page_id AND alias.arrived_at < p.created_at, false)`;
}

const MAX_ALIAS_DEPTH = 64;

/**
 * Whether the undelete that merged a page row (columns prefixed `t`) elsewhere came after a
 * suppressed delete of its id: by the row's earliest suppressed delete, which outlasts the id
 * living again (a create reused it, or it was restored); one of unknown time (an older key
 * layout) counts as before. Rows merged before that was kept go by their deletion columns. The
 * archive may have been restored with the suppression lifted and deleted again before that
 * undelete: no event says so, and its revisions are hidden too.
 */
const MERGED_AFTER_SUPPRESSION_SQL = (t: string) => {
  const [suppressed, merged] = [keyTimeTextSql(`${t}row_suppression_key`), keyTimeTextSql(`${t}row_merge_key`)];
  return `coalesce(CASE WHEN ${t}row_suppression_key IS NOT NULL THEN coalesce(${suppressed} <= ${merged}, ${suppressed} IS NULL) END, ${t}page_is_deleted AND ${t}page_is_suppressed)`;
};

/** Of such a page row: that undelete's time. */
const SUPPRESSED_MERGE_SQL = (t: string) => `CASE WHEN ${MERGED_AFTER_SUPPRESSION_SQL(t)} THEN ${keyTimeSql(`${t}row_merge_key`)} END`;

/**
 * And the time before which revisions may have been in a suppressed archive that undelete
 * restored (NULL when unknown: all). The row's own delete, if suppressed and not after the
 * undelete, is the last delete before it: its archive held what was saved before it. Otherwise
 * which suppressed delete, lifted or not, came last before the undelete no column says (only the
 * earliest is kept), so it is the undelete's time: the id's later life is hidden too, never
 * revisions of a suppression made again after a lift.
 */
const SUPPRESSED_BEFORE_SQL = (t: string) => {
  const deletedSuppressed = `${t}page_is_deleted AND ${t}page_is_suppressed AND ${keyTimeTextSql(`${t}row_deletion_key`)} <= ${keyTimeTextSql(`${t}row_merge_key`)}`;
  return `CASE WHEN ${MERGED_AFTER_SUPPRESSION_SQL(t)} THEN CASE WHEN ${deletedSuppressed} THEN ${keyTimeSql(`${t}row_deletion_key`)} ELSE ${keyTimeSql(`${t}row_merge_key`)} END END`;
};

/**
 * A revision filed under a page with an alias that stays there: one the create that reused the
 * id made since, or one saved after the alias's undelete, which restored only what existed before.
 */
const STAYS_SQL = '(r.revision_id >= alias.created_revision_id OR r.revision_dt > alias.left_at)';

/**
 * A revision that reached its page through such a merge, saved before that suppressed delete (or
 * undelete: SUPPRESSED_BEFORE_SQL), its flags set by no visibility change since.
 */
const KEPT_SUPPRESSED_SQL = `CASE WHEN alias.suppressed_at IS NOT NULL AND NOT coalesce(${STAYS_SQL}, false) AND NOT coalesce(r.revision_dt > alias.suppressed_before, false)
    THEN NOT coalesce(${keyTimeSql('r.row_visibility_key')} >= alias.suppressed_at, false) ELSE false END`;

/** Of a page row whose id a create (re)used: that create's revision (page-merge.ts). */
const CREATED_REVISION_SQL = `CASE WHEN page_is_deleted IS NULL THEN ${keyRevisionIdSql('row_deletion_key')} END`;

/** The time of that create, as text (alias_chain's arrived_at too): no timestamp cast for every page. */
const CREATED_AT_SQL = `CASE WHEN page_is_deleted IS NULL THEN ${keyTimeTextSql('row_deletion_key')} END`;

/**
 * The setting bulk reads of `revisions` (the dump) run under. DuckDB guesses the filtered
 * revisions scan at a fifth per filter and the recursive alias relation at millions of rows, so
 * its build-side pass turned the alias join around and built the hash table from the revisions,
 * content and all: a dump's history read took 0.9 GB more memory and a third more CPU. The view
 * puts the revisions on the probe side of both joins, so keeping the written sides is right
 * whatever the sizes. It holds for the session, so it is not set under users' own SQL.
 */
export const REVISIONS_VIEW_SETTING = "SET disabled_optimizers = 'build_side_probe_side'";

/** Latest revision per page by (revision_dt, revision_id) among `revisions`, optionally before a cutoff. */
export function currentViewSql(revisions: string, cutoffPredicate = 'true'): string {
  return `SELECT * FROM ${revisions} WHERE ${cutoffPredicate}
QUALIFY row_number() OVER (PARTITION BY wiki_id, page_id ORDER BY revision_dt DESC, revision_id DESC) = 1`;
}
