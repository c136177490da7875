// Merge SQL for the revisions table. Each of the row's groups (state-schema REVISION_GROUPS) takes
// the values of the greatest-key event that carries that group, so the fold is order-independent
// and idempotent: revisions are immutable in MediaWiki, only which events mention them varies.
// Hidden parts are omitted from events (notes §1.3), so "carries" means "has a non-null value".
// The key and the tie rule are event-order.ts's.

import { keyWinsSql } from './event-order.js';
import type { RevisionGroup } from './state-schema.js';

/** Per group: the delta-side condition that the event carries it, and the columns it sets. */
const GROUPS: Record<RevisionGroup, { readonly carries: string; readonly columns: Readonly<Record<string, string>> }> = {
  base: {
    carries: 'true',
    columns: {
      page_id: 'page.page_id',
      revision_parent_id: 'revision.rev_parent_id',
      revision_dt: 'revision.rev_dt',
      revision_is_minor_edit: 'revision.is_minor_edit',
    },
  },
  content: {
    // Every slot with its body: a delete carries slot metadata but no text (the enrichment cannot
    // fetch a deleted page's), which must not blank the text stored for that revision.
    carries: 'revision.content_slots IS NOT NULL AND list_bool_and(list_transform(map_values(revision.content_slots), s -> s.content_body IS NOT NULL))',
    columns: {
      revision_sha1: 'revision.rev_sha1',
      revision_size: 'revision.rev_size',
      revision_content_slots:
        'map_from_entries(list_transform(map_entries(revision.content_slots), e -> {key: e.key, value: {content_body: e.value.content_body, content_format: e.value.content_format, content_model: e.value.content_model, content_sha1: e.value.content_sha1, content_size: e.value.content_size, origin_rev_id: e.value.origin_rev_id}}))',
    },
  },
  editor: {
    carries: 'revision.editor IS NOT NULL',
    columns: {
      user_id: 'revision.editor.user_id',
      user_text: 'revision.editor.user_text',
      user_is_bot: 'revision.editor.is_bot',
      user_is_system: 'revision.editor.is_system',
      user_is_temp: 'revision.editor.is_temp',
    },
  },
  comment: {
    carries: 'revision.comment IS NOT NULL',
    columns: { revision_comment: 'revision.comment' },
  },
  visibility: {
    carries: 'revision.is_content_visible IS NOT NULL',
    columns: {
      revision_content_is_visible: 'revision.is_content_visible',
      user_is_visible: 'revision.is_editor_visible',
      revision_comment_is_visible: 'revision.is_comment_visible',
    },
  },
};

const GROUP_NAMES = Object.keys(GROUPS) as RevisionGroup[];

/**
 * Delta per (wiki_id, revision_id) from the events in `source` (a relation with the events-table
 * columns plus `k` and `r`, the event key and rank): for each group the winning values and their key.
 */
export function revisionDeltaSql(source: string): string {
  const parts = GROUP_NAMES.flatMap((group) => {
    const { carries, columns } = GROUPS[group];
    const struct = Object.entries(columns).map(([name, expr]) => `${name}: ${expr}`).join(', ');
    const filter = carries === 'true' ? '' : ` FILTER (WHERE ${carries})`;
    return [`arg_max({${struct}}, r)${filter} AS g_${group}`, `arg_max(k, r)${filter} AS k_${group}`];
  });
  return `SELECT wiki_id, revision.rev_id AS revision_id, ${parts.join(', ')}
FROM ${source} WHERE revision.rev_id IS NOT NULL GROUP BY wiki_id, revision.rev_id`;
}

/** True when the delta's key for the group beats the existing row's. */
function wins(group: RevisionGroup): string {
  return keyWinsSql(`d.k_${group}`, `x.row_${group}_key`);
}

/**
 * Rows to write: the merge of `delta` (revisionDeltaSql) with `existing` (live rows of the touched
 * files, with `_file` and `_pos`), only where some group changes. Column order = REVISIONS_SCHEMA.
 */
export function revisionMergeSql(delta: string, existing: string): string {
  const columns: string[] = ['d.wiki_id AS wiki_id', 'd.revision_id AS revision_id'];
  const order = [
    'page_id', 'revision_parent_id', 'revision_dt', 'revision_is_minor_edit', 'revision_comment', 'revision_sha1', 'revision_size',
    'revision_content_slots', 'user_id', 'user_text', 'user_is_bot', 'user_is_system', 'user_is_temp',
    'revision_content_is_visible', 'user_is_visible', 'revision_comment_is_visible',
  ];
  for (const column of order) {
    const group = GROUP_NAMES.find((g) => column in GROUPS[g].columns)!;
    columns.push(`CASE WHEN ${wins(group)} THEN d.g_${group}.${column} ELSE x.${column} END AS ${column}`);
  }
  for (const group of GROUP_NAMES) {
    columns.push(`CASE WHEN ${wins(group)} THEN d.k_${group} ELSE x.row_${group}_key END AS row_${group}_key`);
  }
  const changed = GROUP_NAMES.map(wins).join(' OR ');
  return `SELECT ${columns.join(',\n  ')},
  x._file AS _file, x._pos AS _pos
FROM ${delta} d LEFT JOIN ${existing} x ON x.wiki_id = d.wiki_id AND x.revision_id = d.revision_id
WHERE ${changed}`;
}

/**
 * The visibility group per revision from legacy revision visibility change rows (`source`: that
 * table's columns plus `k` and `r`), shaped as revisionDeltaSql's visibility columns. Such an
 * event sets no other group: a revision known only from one stays out of the dumps until its
 * page change arrives, which then cannot make it visible again with an older key.
 */
export function visibilityDeltaSql(source: string): string {
  const columns = GROUPS.visibility.columns;
  const struct = `{${Object.keys(columns).map((name) => `${name}: visibility.${LEGACY_FLAG[name]!}`).join(', ')}}`;
  return `SELECT database AS wiki_id, rev_id AS revision_id, arg_max(${struct}, r) AS g_visibility, arg_max(k, r) AS k_visibility
FROM ${source} GROUP BY database, rev_id`;
}

/** The legacy event's `visibility` field of each visibility column. */
const LEGACY_FLAG: Readonly<Record<string, string>> = {
  revision_content_is_visible: 'text',
  user_is_visible: 'user',
  revision_comment_is_visible: 'comment',
};

/** revisionDeltaSql's `delta` with `visibility` (visibilityDeltaSql) folded in: per revision the greater visibility key wins. */
export function withVisibilitySql(delta: string, visibility: string): string {
  const wins = keyWinsSql('v.k_visibility', 'd.k_visibility');
  const others = GROUP_NAMES.filter((g) => g !== 'visibility').flatMap((g) => [`d.g_${g} AS g_${g}`, `d.k_${g} AS k_${g}`]);
  return `SELECT coalesce(d.wiki_id, v.wiki_id) AS wiki_id, coalesce(d.revision_id, v.revision_id) AS revision_id, ${others.join(', ')},
  CASE WHEN ${wins} THEN v.g_visibility ELSE d.g_visibility END AS g_visibility,
  CASE WHEN ${wins} THEN v.k_visibility ELSE d.k_visibility END AS k_visibility
FROM ${delta} d FULL JOIN ${visibility} v ON v.wiki_id = d.wiki_id AND v.revision_id = d.revision_id`;
}
