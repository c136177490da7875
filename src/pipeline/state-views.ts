// Binds the query views (`events`, `visibility_changes`, `revisions_raw`, `pages`, `revisions`,
// `current`) to one
// consistent set of snapshots: the pages snapshot chosen (current, --as-of or --snapshot) and the
// revisions snapshot that merged up to the same events snapshot. Merge commits revisions first,
// so after a crash between the two commits readers still see a matching pair.

import { JobError } from '../core/errors.js';
import { conformedRelationSql, emptyRelationSql } from '../duckdb/iceberg-types.js';
import { tableRelationSql } from '../duckdb/table-view.js';
import type { DuckDb } from '../duckdb/connection.js';
import type { Warehouse } from '../iceberg/catalog.js';
import type { Snapshot } from '../iceberg/spec/snapshot.js';
import type { Table } from '../iceberg/table.js';
import type { Schema } from '../iceberg/spec/types.js';
import { currentViewSql, REVISIONS_VIEW_SETTING, revisionsViewSql } from '../merge/views.js';
import { EVENTS_SCHEMA } from '../events/events-table.js';
import { VISIBILITY_EVENTS_SCHEMA } from '../events/visibility-change.js';
import { PAGES_SCHEMA, PAGES_TABLE, REVISIONS_SCHEMA, REVISIONS_TABLE, SOURCE_SNAPSHOT_PROPERTY, STATE_NAMESPACE } from '../merge/state-schema.js';

export interface SnapshotChoice {
  /** Read the tables as of this instant (ms since the epoch). */
  readonly asOfMs?: number;
  /** Read the pages table (and the matching revisions snapshot) at this snapshot id. */
  readonly snapshotId?: bigint;
}

export interface BoundSnapshots {
  readonly events?: string;
  readonly visibilityChanges?: string;
  readonly pages?: string;
  readonly revisions?: string;
  readonly sourceSnapshotId?: string;
  /**
   * The events snapshot the revisions history read from (current, or at the as-of time) is merged
   * up to, when not the pages' one: a merge stopped between the two tables (or pages was rolled
   * back alone), and the views show the older pair both hold.
   */
  readonly revisionsAheadOf?: string;
}

function ancestors(table: Table, from: Snapshot | undefined): Snapshot[] {
  const out: Snapshot[] = [];
  for (let s = from; s !== undefined; s = s.parentSnapshotId === undefined ? undefined : table.snapshot(s.parentSnapshotId)) out.push(s);
  return out;
}

/**
 * The revisions snapshot current when pages' `snapshot` last stopped being current (just before
 * the next entry of pages' snapshot log), or the current one while it still is: merges of
 * visibility changes alone add revisions snapshots of its events meanwhile.
 */
function revisionsWhileCurrent(pages: Table, snapshot: Snapshot, revisions: Table): Snapshot | undefined {
  const log = pages.metadata.snapshotLog;
  const last = log.findLastIndex((e) => e.snapshotId === snapshot.snapshotId);
  const next = last < 0 ? undefined : log[last + 1];
  return pages.currentSnapshot()?.snapshotId === snapshot.snapshotId || next === undefined ? revisions.currentSnapshot() : revisions.snapshotAsOf(next.timestampMs - 1);
}

function chosen(table: Table, choice: SnapshotChoice): Snapshot | undefined {
  if (choice.snapshotId !== undefined) {
    const s = table.snapshot(choice.snapshotId);
    if (s === undefined) throw new JobError('USAGE', `snapshot ${choice.snapshotId} is not a snapshot of ${table.location}`);
    return s;
  }
  if (choice.asOfMs !== undefined) {
    const s = table.snapshotAsOf(choice.asOfMs);
    // Empty is right only before the table had rows; history that expiry dropped is not empty.
    if (s === undefined && table.isExpiredAt(choice.asOfMs)) {
      const kept = new Date(table.metadata.snapshotLog[0]!.timestampMs).toISOString();
      throw new JobError('NOT_FOUND', `${table.location} keeps no snapshot as of ${new Date(choice.asOfMs).toISOString()}: its snapshots before ${kept} were expired (maintenance.expire_snapshots_older_than_days)`);
    }
    return s;
  }
  return table.currentSnapshot();
}

/** The CREATE VIEW statements of the query views at the chosen snapshots, and what they bound. */
export async function stateViewStatements(
  warehouse: Warehouse,
  events: { namespace: string; name: string; visibilityName?: string },
  choice: SnapshotChoice = {},
  o: { temporary?: boolean; only?: ReadonlySet<ViewName> } = {},
): Promise<{ statements: string[]; bound: BoundSnapshots }> {
  const views = o.only ?? new Set(VIEW_NAMES);
  const want = { events: views.has('events'), pages: views.has('pages'), revisions: views.has('revisions_raw'), visibility: views.has('visibility_changes') && events.visibilityName !== undefined };
  // Reading never creates a table: before the first merge the state views are empty. Pages first:
  // a merge commits revisions before pages, so revisions read after pages hold the snapshot pages
  // is at (read at once, a merge landing between the two reads failed the pairing below).
  const pages = await warehouse.tryLoadTable(STATE_NAMESPACE, PAGES_TABLE);
  const [revisions, eventsTable, visibilityTable] = await Promise.all([
    warehouse.tryLoadTable(STATE_NAMESPACE, REVISIONS_TABLE),
    want.events ? warehouse.tryLoadTable(events.namespace, events.name) : undefined,
    want.visibility ? warehouse.tryLoadTable(events.namespace, events.visibilityName!) : undefined,
  ]);
  if (pages === undefined && choice.snapshotId !== undefined) {
    throw new JobError('USAGE', `snapshot ${choice.snapshotId} is not a snapshot of ${STATE_NAMESPACE}.${PAGES_TABLE}: the table does not exist yet (no merge has run)`);
  }
  const pagesSnap = pages === undefined ? undefined : chosen(pages, choice);
  const source = pages === undefined || pagesSnap === undefined ? undefined : pages.summaryProperty(SOURCE_SNAPSHOT_PROPERTY, pagesSnap)?.value;
  // Merges of visibility changes alone add revisions snapshots with the same source: the newest
  // one. At an --as-of time, the newest of the history current then (the snapshot log's, as for
  // pages): a rollback since then must not hide what a reader saw at that time.
  // A pages snapshot chosen by id: the history current when it last stopped being current.
  const revisionsFrom =
    revisions === undefined
      ? undefined
      : choice.asOfMs !== undefined
        ? revisions.snapshotAsOf(choice.asOfMs)
        : choice.snapshotId !== undefined && pages !== undefined && pagesSnap !== undefined
          ? revisionsWhileCurrent(pages, pagesSnap, revisions)
          : revisions.currentSnapshot();
  const revisionsAhead = revisions === undefined || revisionsFrom === undefined || source === undefined ? undefined : revisions.summaryProperty(SOURCE_SNAPSHOT_PROPERTY, revisionsFrom)?.value;
  const mergedFrom = (from: Snapshot | undefined) => (revisions === undefined ? undefined : ancestors(revisions, from).find((s) => revisions.summaryProperty(SOURCE_SNAPSHOT_PROPERTY, s)?.value === source));
  // A pages snapshot a rollback left: the history then is the rolled-back one, so its own merge's
  // revisions are the ones current at its commit (a merge commits revisions first), never a later
  // run's that merged the same events.
  const revisionsSnap =
    source === undefined || revisions === undefined
      ? undefined
      : (mergedFrom(revisionsFrom) ??
        (choice.snapshotId !== undefined && pagesSnap !== undefined
          ? // Its log trimmed by expiry: the current history, which maintenance keeps paired with retained pages snapshots.
            (mergedFrom(revisions.snapshotAsOf(pagesSnap.timestampMs)) ?? mergedFrom(revisions.currentSnapshot()))
          : undefined));
  // Without the revisions that merged the same events the views would pair pages with no (or
  // other) revisions, and a dump would publish empty files: fail, saying how to repair it.
  if (want.revisions && source !== undefined && revisions?.currentSnapshot() !== undefined && revisionsSnap === undefined) {
    throw new JobError(
      'NOT_FOUND',
      `${STATE_NAMESPACE}.${REVISIONS_TABLE} has no snapshot merged up to events snapshot ${source}, which ${STATE_NAMESPACE}.${PAGES_TABLE} snapshot ${pagesSnap!.snapshotId} is at (was it rolled back alone, or that snapshot expired?). ` +
        `Run \`mwlake merge\` to bring both to the same events, or roll ${STATE_NAMESPACE}.${PAGES_TABLE} back as well`,
      { context: { pagesSnapshot: pagesSnap!.snapshotId.toString(), source } },
    );
  }
  const eventsOf = (table: Table | undefined) => (table === undefined ? undefined : choice.snapshotId !== undefined ? table.currentSnapshot() : chosen(table, choice));
  const eventsSnap = eventsOf(eventsTable);
  const visibilitySnap = eventsOf(visibilityTable);

  const create = `CREATE OR REPLACE ${o.temporary === false ? '' : 'TEMP '}VIEW`;
  // Views a query does not use bind to empty relations: planning them would read their manifests.
  const relation = async (table: Table | undefined, schema: Schema, snapshot: Snapshot | undefined, used: boolean): Promise<string> => {
    if (table === undefined) return emptyRelationSql(schema);
    const sql = await tableRelationSql(table, used ? snapshotOption(snapshot) : { empty: true });
    // A state table from before a column was added (evolved at its next merge) reads it as NULL.
    const lacks = schema.fields.some((f) => !table.schema().fields.some((t) => t.name === f.name));
    return lacks && (schema === PAGES_SCHEMA || schema === REVISIONS_SCHEMA) ? conformedRelationSql(sql, table.schema(), schema) : sql;
  };
  const [eventsSql, pagesSql, revisionsSql, visibilitySql] = await Promise.all([
    want.events ? relation(eventsTable, EVENTS_SCHEMA, eventsSnap, true) : undefined,
    relation(pages, PAGES_SCHEMA, pagesSnap, want.pages),
    relation(revisions, REVISIONS_SCHEMA, revisionsSnap, want.revisions),
    want.visibility ? relation(visibilityTable, VISIBILITY_EVENTS_SCHEMA, visibilitySnap, true) : undefined,
  ]);
  // Only the views asked for are created: DuckDB binds each one as it is created (a few ms each).
  const statements: string[] = [];
  if (eventsSql !== undefined) statements.push(`${create} events AS ${eventsSql}`);
  if (visibilitySql !== undefined) statements.push(`${create} visibility_changes AS ${visibilitySql}`);
  if (views.has('pages')) statements.push(`${create} pages AS ${pagesSql}`);
  if (views.has('revisions_raw')) statements.push(`${create} revisions_raw AS ${revisionsSql}`);
  if (views.has('revisions')) statements.push(`${create} revisions AS ${revisionsViewSql('revisions_raw', 'pages')}`);
  if (views.has('current')) statements.push(`${create} current AS ${currentViewSql('revisions')}`);
  const bound: BoundSnapshots = {
    ...(eventsSnap === undefined ? {} : { events: eventsSnap.snapshotId.toString() }),
    ...(visibilitySnap === undefined ? {} : { visibilityChanges: visibilitySnap.snapshotId.toString() }),
    ...(pagesSnap === undefined ? {} : { pages: pagesSnap.snapshotId.toString() }),
    ...(revisionsSnap === undefined ? {} : { revisions: revisionsSnap.snapshotId.toString() }),
    ...(source === undefined ? {} : { sourceSnapshotId: source }),
    ...(revisionsAhead === undefined || revisionsAhead === source || !want.revisions ? {} : { revisionsAheadOf: revisionsAhead }),
  };
  return { statements, bound };
}

export const VIEW_NAMES = ['events', 'visibility_changes', 'pages', 'revisions_raw', 'revisions', 'current'] as const;
export type ViewName = (typeof VIEW_NAMES)[number];

/**
 * The views a SQL text can refer to, with the views they are built on (`current` reads
 * `revisions`, which joins `revisions_raw` and `pages`). Generous on purpose: any mention of a
 * name as a word counts (in a string or a comment too) except right after AS, where it names an
 * alias or a CTE; a view left out would fail the query, one too many only costs its binding.
 */
export function viewsUsedBy(sql: string): Set<ViewName> {
  const used = new Set(VIEW_NAMES.filter((name) => new RegExp(`(?<!\\bAS\\s+)\\b${name}\\b`, 'i').test(sql)));
  if (used.has('current')) used.add('revisions');
  if (used.has('revisions')) used.add('revisions_raw').add('pages');
  return used;
}

/**
 * Binds the views for the dump's bulk reads, with the planner setting the revisions view needs
 * to read content (REVISIONS_VIEW_SETTING). `mwlake query` runs the statements without it, so a
 * user's own joins are planned as DuckDB plans them.
 */
export async function bindStateViews(
  db: DuckDb,
  warehouse: Warehouse,
  events: { namespace: string; name: string },
  choice: SnapshotChoice = {},
  only?: ReadonlySet<ViewName>,
): Promise<BoundSnapshots> {
  const { statements, bound } = await stateViewStatements(warehouse, events, choice, only === undefined ? {} : { only });
  for (const sql of statements) await db.run(sql);
  if (only === undefined || only.has('revisions')) await db.run(REVISIONS_VIEW_SETTING);
  return bound;
}

/** Binds the empty snapshot (no rows) when a table has none at the chosen point. */
function snapshotOption(s: Snapshot | undefined): { snapshotId?: bigint; empty?: boolean } {
  return s === undefined ? { empty: true } : { snapshotId: s.snapshotId };
}

export { STATE_NAMESPACE };
