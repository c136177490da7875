// The dump-ready state tables: `revisions` (one row per wiki_id, revision_id) and `pages` (one row
// per wiki_id, page_id). Titles live only on the page row, so a move or delete rewrites one small
// row whatever the page's history length (issue 4/7). Column names follow Wikimedia's
// mediawiki_content_history_v1 (notes §3.3); `row_*_key` columns are the per-concern watermarks.

import { ConfigError } from '../core/errors.js';
import type { Warehouse } from '../iceberg/catalog.js';
import { withAddedColumns, type NewColumn } from '../iceberg/commit/evolve-schema.js';
import { withSortOrder } from '../iceberg/commit/evolve-sort-order.js';
import type { PartitionSpec } from '../iceberg/spec/partition.js';
import type { SortField } from '../iceberg/spec/sort-order.js';
import type { Table } from '../iceberg/table.js';
import { isPrimitive, type NestedField, type Schema } from '../iceberg/spec/types.js';

export const STATE_NAMESPACE = 'state';
export const REVISIONS_TABLE = 'revisions';
export const PAGES_TABLE = 'pages';

/** Snapshot summary key: the events-table snapshot a state table has merged up to. */
export const SOURCE_SNAPSHOT_PROPERTY = 'mwlake.source-snapshot-id';

/** Snapshot summary key: the legacy visibility change table's snapshot the revisions table has merged up to. */
export const VISIBILITY_SOURCE_SNAPSHOT_PROPERTY = 'mwlake.visibility-source-snapshot-id';

/** Snapshot summary keys: the uuids of the tables those snapshots belong to (a warehouse holds one job's state). */
export const SOURCE_TABLE_PROPERTY = 'mwlake.source-table-uuid';
export const VISIBILITY_SOURCE_TABLE_PROPERTY = 'mwlake.visibility-source-table-uuid';

const opt = (id: number, name: string, type: NestedField['type']): NestedField => ({ id, name, required: false, type });
const req = (id: number, name: string, type: NestedField['type']): NestedField => ({ id, name, required: true, type });

/** Watermark groups of a revision row: each is replaced only by an event with a greater key. */
export const REVISION_GROUPS = ['base', 'content', 'editor', 'comment', 'visibility'] as const;
export type RevisionGroup = (typeof REVISION_GROUPS)[number];

export const REVISIONS_SCHEMA: Schema = {
  schemaId: 0,
  identifierFieldIds: [1, 2],
  fields: [
    req(1, 'wiki_id', 'string'),
    req(2, 'revision_id', 'long'),
    opt(3, 'page_id', 'long'),
    opt(4, 'revision_parent_id', 'long'),
    opt(5, 'revision_dt', 'timestamptz'),
    opt(6, 'revision_is_minor_edit', 'boolean'),
    opt(7, 'revision_comment', 'string'),
    opt(8, 'revision_sha1', 'string'),
    opt(9, 'revision_size', 'long'),
    opt(10, 'revision_content_slots', {
      type: 'map',
      keyId: 30,
      key: 'string',
      valueId: 31,
      valueRequired: false,
      value: {
        type: 'struct',
        fields: [
          opt(32, 'content_body', 'string'),
          opt(33, 'content_format', 'string'),
          opt(34, 'content_model', 'string'),
          opt(35, 'content_sha1', 'string'),
          opt(36, 'content_size', 'long'),
          opt(37, 'origin_rev_id', 'long'),
        ],
      },
    }),
    opt(11, 'user_id', 'long'),
    opt(12, 'user_text', 'string'),
    opt(13, 'user_is_bot', 'boolean'),
    opt(14, 'user_is_system', 'boolean'),
    opt(15, 'user_is_temp', 'boolean'),
    opt(16, 'revision_content_is_visible', 'boolean'),
    opt(17, 'user_is_visible', 'boolean'),
    opt(18, 'revision_comment_is_visible', 'boolean'),
    opt(19, 'row_base_key', 'string'),
    opt(20, 'row_content_key', 'string'),
    opt(21, 'row_editor_key', 'string'),
    opt(22, 'row_comment_key', 'string'),
    opt(23, 'row_visibility_key', 'string'),
  ],
};

/** Page groups: title/namespace/redirect flag/latest, deletion, the undelete-with-new-id alias, and the redirect target. */
export const PAGE_GROUPS = ['page', 'deletion', 'merge', 'redirect'] as const;
export type PageGroup = (typeof PAGE_GROUPS)[number];

export const PAGES_SCHEMA: Schema = {
  schemaId: 0,
  identifierFieldIds: [1, 2],
  fields: [
    req(1, 'wiki_id', 'string'),
    req(2, 'page_id', 'long'),
    opt(3, 'page_namespace_id', 'int'),
    opt(4, 'page_title', 'string'),
    opt(5, 'page_is_redirect', 'boolean'),
    opt(6, 'page_redirect_target', 'string'),
    opt(7, 'page_latest_revision_id', 'long'),
    opt(8, 'page_is_deleted', 'boolean'),
    opt(9, 'page_is_suppressed', 'boolean'),
    opt(10, 'page_merged_into_page_id', 'long'),
    opt(11, 'row_page_key', 'string'),
    opt(12, 'row_deletion_key', 'string'),
    opt(13, 'row_merge_key', 'string'),
    // Added after the first release: older tables gain them at their next merge (openStateTable).
    opt(14, 'page_redirect_target_namespace_id', 'int'),
    // The redirect target's own watermark: an event that names no target (a visibility change, a
    // redirect of schema 1.0.0) must not set it, and a late one that does must still win over it.
    opt(15, 'row_redirect_key', 'string'),
    // The earliest suppressed delete of the page id, which no later event clears: the revisions an
    // undelete took from it into another page stay hidden after a create reuses the id (views.ts).
    opt(16, 'row_suppression_key', 'string'),
  ],
};

/** Both tables are partitioned by wiki: merges and dumps work wiki by wiki. */
export const STATE_SPEC: PartitionSpec = {
  specId: 0,
  fields: [{ sourceId: 1, fieldId: 1000, name: 'wiki_id', transform: { kind: 'identity' } }],
};

const byKey = (sourceId: number): SortField[] => [{ sourceId, transform: { kind: 'identity' }, direction: 'asc', nullOrder: 'nulls-first' }];

/**
 * Rows within a data file are in key order (revision_id; page_id), so a file's row groups cover
 * narrow key ranges and a merge or a range read skips the others.
 */
export const STATE_SORT_FIELDS: Readonly<Record<typeof REVISIONS_TABLE | typeof PAGES_TABLE, readonly SortField[]>> = {
  [REVISIONS_TABLE]: byKey(2),
  [PAGES_TABLE]: byKey(2),
};

/**
 * About how many bytes a row takes (content dominates), as SQL over the table's columns: sizes
 * the row groups and the passes of the statements that sort these rows.
 */
export const STATE_ROW_BYTES_SQL: Readonly<Record<typeof REVISIONS_TABLE | typeof PAGES_TABLE, string>> = {
  [REVISIONS_TABLE]: 'coalesce(revision_size, 0) + 256',
  [PAGES_TABLE]: '256',
};

/** Optional columns of `want` that `has` lacks by name (the state tables only ever gain primitive ones). */
function missingColumns(has: Schema, want: Schema): NewColumn[] {
  const names = new Set(has.fields.map((f) => f.name));
  return want.fields.flatMap((f) => (names.has(f.name) || f.required || !isPrimitive(f.type) ? [] : [{ name: f.name, type: f.type }]));
}

/**
 * Refuses a table with columns mwlake does not write (matched by name): another engine added or
 * renamed them, and a merge would drop their values from every row it rewrites (by name, a
 * renamed column would also be added again under a new id).
 */
function refuseUnknownColumns(table: Table, want: Schema, name: string): void {
  const known = new Set(want.fields.map((f) => f.name));
  const unknown = table.schema().fields.filter((f) => !known.has(f.name));
  if (unknown.length === 0) return;
  const listed = unknown.map((f) => `${f.name} (field id ${f.id})`).join(', ');
  throw new ConfigError(
    `${STATE_NAMESPACE}.${name} has columns mwlake does not write: ${listed}. Another engine added or renamed them, and a merge would drop their values ` +
      `from every row it rewrites; rename them back or drop them (the rows keep the columns mwlake writes), then merge again`,
    { context: { table: table.location, columns: unknown.map((f) => f.name) } },
  );
}

/**
 * Opens (creating on first use) one of the two state tables; merges write deletes, not rewrites.
 * `verify` sees a stored table before anything changes it. A table created before the tables had
 * a sort order, or a column added since, gets it here, as a metadata-only commit. With `dryRun`
 * nothing is written: a missing table is a draft, an old one keeps its order and columns (readers
 * take a missing column as NULL).
 */
export async function openStateTable(
  warehouse: Warehouse,
  name: typeof REVISIONS_TABLE | typeof PAGES_TABLE,
  o: { readonly dryRun?: boolean; readonly verify?: (table: Table) => void } = {},
): Promise<Table> {
  const options = {
    schema: name === REVISIONS_TABLE ? REVISIONS_SCHEMA : PAGES_SCHEMA,
    spec: STATE_SPEC,
    sortOrder: { orderId: 1, fields: STATE_SORT_FIELDS[name] },
    properties: { 'write.delete.mode': 'merge-on-read', 'write.update.mode': 'merge-on-read', 'write.merge.mode': 'merge-on-read' },
  };
  const stored = await warehouse.tryLoadTable(STATE_NAMESPACE, name);
  if (stored !== undefined) {
    o.verify?.(stored);
    refuseUnknownColumns(stored, options.schema, name);
  }
  if (o.dryRun === true) return stored ?? warehouse.draftTable(STATE_NAMESPACE, name, options);
  let table = stored ?? (await warehouse.loadOrCreateTable(STATE_NAMESPACE, name, options));
  if (table.sortOrder().fields.length === 0) table = await table.updateMetadata((m) => withSortOrder(m, STATE_SORT_FIELDS[name]));
  const added = missingColumns(table.schema(), options.schema);
  if (added.length > 0) table = await table.updateMetadata((m) => withAddedColumns(m, added));
  return table;
}
