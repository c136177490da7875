// Binds the query views (`events`, `revisions_raw`, `pages`, `revisions`, `current`) to one
// consistent set of snapshots: the pages snapshot chosen (current, --as-of or --snapshot) and the
// revisions snapshot that merged up to the same events snapshot. Merge commits revisions first,
// so after a crash between the two commits readers still see a matching pair.

import { JobError } from '../core/errors.js';
import { emptyRelationSql } from '../duckdb/iceberg-types.js';
import { tableRelationSql } from '../duckdb/table-view.js';
import type { DuckDb } from '../duckdb/connection.js';
import type { Warehouse } from '../iceberg/catalog.js';
import type { Snapshot } from '../iceberg/spec/snapshot.js';
import type { Table } from '../iceberg/table.js';
import type { Schema } from '../iceberg/spec/types.js';
import { currentViewSql, revisionsViewSql } from '../merge/views.js';
import { PAGES_SCHEMA, PAGES_TABLE, REVISIONS_SCHEMA, REVISIONS_TABLE, SOURCE_SNAPSHOT_PROPERTY, STATE_NAMESPACE } from '../merge/state-schema.js';

export interface SnapshotChoice {
  /** Read the tables as of this instant (ms since the epoch). */
  readonly asOfMs?: number;
  /** Read the pages table (and the matching revisions snapshot) at this snapshot id. */
  readonly snapshotId?: bigint;
}

export interface BoundSnapshots {
  readonly events?: string;
  readonly pages?: string;
  readonly revisions?: string;
  readonly sourceSnapshotId?: string;
}

function ancestors(table: Table, from: Snapshot | undefined): Snapshot[] {
  const out: Snapshot[] = [];
  for (let s = from; s !== undefined; s = s.parentSnapshotId === undefined ? undefined : table.snapshot(s.parentSnapshotId)) out.push(s);
  return out;
}

function chosen(table: Table, choice: SnapshotChoice): Snapshot | undefined {
  if (choice.snapshotId !== undefined) {
    const s = table.snapshot(choice.snapshotId);
    if (s === undefined) throw new JobError('USAGE', `snapshot ${choice.snapshotId} is not a snapshot of ${table.location}`);
    return s;
  }
  if (choice.asOfMs !== undefined) return table.snapshotAsOf(choice.asOfMs);
  return table.currentSnapshot();
}

/** The CREATE VIEW statements of the query views at the chosen snapshots, and what they bound. */
export async function stateViewStatements(
  warehouse: Warehouse,
  events: { namespace: string; name: string },
  choice: SnapshotChoice = {},
  o: { temporary?: boolean; only?: ViewUse } = {},
): Promise<{ statements: string[]; bound: BoundSnapshots }> {
  const want = o.only ?? { events: true, pages: true, revisions: true };
  // Reading never creates a table: before the first merge the state views are empty.
  const [pages, revisions, eventsTable] = await Promise.all([
    warehouse.tryLoadTable(STATE_NAMESPACE, PAGES_TABLE),
    warehouse.tryLoadTable(STATE_NAMESPACE, REVISIONS_TABLE),
    want.events ? warehouse.tryLoadTable(events.namespace, events.name) : undefined,
  ]);
  if (pages === undefined && choice.snapshotId !== undefined) {
    throw new JobError('USAGE', `snapshot ${choice.snapshotId} is not a snapshot of ${STATE_NAMESPACE}.${PAGES_TABLE}: the table does not exist yet (no merge has run)`);
  }
  const pagesSnap = pages === undefined ? undefined : chosen(pages, choice);
  const source = pages === undefined || pagesSnap === undefined ? undefined : pages.summaryProperty(SOURCE_SNAPSHOT_PROPERTY, pagesSnap)?.value;
  const revisionsSnap =
    source === undefined || revisions === undefined
      ? undefined
      : ancestors(revisions, revisions.currentSnapshot()).find((s) => revisions.summaryProperty(SOURCE_SNAPSHOT_PROPERTY, s)?.value === source);
  const eventsSnap = eventsTable === undefined ? undefined : choice.snapshotId !== undefined ? eventsTable.currentSnapshot() : chosen(eventsTable, choice);

  const create = `CREATE OR REPLACE ${o.temporary === false ? '' : 'TEMP '}VIEW`;
  // Views a query does not use bind to empty relations: planning them would read their manifests.
  const relation = (table: Table | undefined, schema: Schema, snapshot: Snapshot | undefined, used: boolean): Promise<string> | string =>
    table === undefined ? emptyRelationSql(schema) : tableRelationSql(table, used ? snapshotOption(snapshot) : { empty: true });
  const [eventsSql, pagesSql, revisionsSql] = await Promise.all([
    eventsTable === undefined ? undefined : tableRelationSql(eventsTable, snapshotOption(eventsSnap)),
    relation(pages, PAGES_SCHEMA, pagesSnap, want.pages),
    relation(revisions, REVISIONS_SCHEMA, revisionsSnap, want.revisions),
  ]);
  const statements: string[] = [];
  if (eventsSql !== undefined) statements.push(`${create} events AS ${eventsSql}`);
  statements.push(`${create} pages AS ${pagesSql}`);
  statements.push(`${create} revisions_raw AS ${revisionsSql}`);
  statements.push(`${create} revisions AS ${revisionsViewSql('revisions_raw', 'pages')}`);
  statements.push(`${create} current AS ${currentViewSql('revisions')}`);
  const bound: BoundSnapshots = {
    ...(eventsSnap === undefined ? {} : { events: eventsSnap.snapshotId.toString() }),
    ...(pagesSnap === undefined ? {} : { pages: pagesSnap.snapshotId.toString() }),
    ...(revisionsSnap === undefined ? {} : { revisions: revisionsSnap.snapshotId.toString() }),
    ...(source === undefined ? {} : { sourceSnapshotId: source }),
  };
  return { statements, bound };
}

/**
 * The tables a SQL text can read through the views: `revisions` and `current` read both state
 * tables (suppression and deletion come from pages), `pages` and `revisions_raw` one each.
 */
export function viewsUsedBy(sql: string): ViewUse {
  const derived = /\b(revisions|current)\b/i.test(sql);
  return { events: /\bevents\b/i.test(sql), pages: derived || /\bpages\b/i.test(sql), revisions: derived || /\brevisions_raw\b/i.test(sql) };
}

export interface ViewUse {
  readonly events: boolean;
  readonly pages: boolean;
  readonly revisions: boolean;
}

export async function bindStateViews(
  db: DuckDb,
  warehouse: Warehouse,
  events: { namespace: string; name: string },
  choice: SnapshotChoice = {},
  only?: ViewUse,
): Promise<BoundSnapshots> {
  const { statements, bound } = await stateViewStatements(warehouse, events, choice, only === undefined ? {} : { only });
  for (const sql of statements) await db.run(sql);
  return bound;
}

/** Binds the empty snapshot (no rows) when a table has none at the chosen point. */
function snapshotOption(s: Snapshot | undefined): { snapshotId?: bigint; empty?: boolean } {
  return s === undefined ? { empty: true } : { snapshotId: s.snapshotId };
}

export { STATE_NAMESPACE };
