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
  o: { temporary?: boolean; only?: { readonly events: boolean; readonly state: boolean } } = {},
): Promise<{ statements: string[]; bound: BoundSnapshots }> {
  const want = o.only ?? { events: true, state: true };
  // Reading never creates a table: before the first merge the state views are empty.
  const pages = await warehouse.tryLoadTable(STATE_NAMESPACE, PAGES_TABLE);
  const revisions = await warehouse.tryLoadTable(STATE_NAMESPACE, REVISIONS_TABLE);
  if (pages === undefined && choice.snapshotId !== undefined) {
    throw new JobError('USAGE', `snapshot ${choice.snapshotId} is not a snapshot of ${STATE_NAMESPACE}.${PAGES_TABLE}: the table does not exist yet (no merge has run)`);
  }
  const pagesSnap = pages === undefined ? undefined : chosen(pages, choice);
  const source = pages === undefined || pagesSnap === undefined ? undefined : pages.summaryProperty(SOURCE_SNAPSHOT_PROPERTY, pagesSnap)?.value;
  const revisionsSnap =
    source === undefined || revisions === undefined
      ? undefined
      : ancestors(revisions, revisions.currentSnapshot()).find((s) => revisions.summaryProperty(SOURCE_SNAPSHOT_PROPERTY, s)?.value === source);
  const eventsTable = want.events ? await warehouse.tryLoadTable(events.namespace, events.name) : undefined;
  const eventsSnap = eventsTable === undefined ? undefined : choice.snapshotId !== undefined ? eventsTable.currentSnapshot() : chosen(eventsTable, choice);

  const create = `CREATE OR REPLACE ${o.temporary === false ? '' : 'TEMP '}VIEW`;
  const statements: string[] = [];
  if (eventsTable !== undefined) statements.push(`${create} events AS ${await tableRelationSql(eventsTable, snapshotOption(eventsSnap))}`);
  // Views a query does not use bind to empty relations: planning them would read their manifests.
  const relation = (table: Table | undefined, schema: Schema, snapshot: Snapshot | undefined): Promise<string> | string =>
    table === undefined ? emptyRelationSql(schema) : tableRelationSql(table, want.state ? snapshotOption(snapshot) : { empty: true });
  statements.push(`${create} pages AS ${await relation(pages, PAGES_SCHEMA, pagesSnap)}`);
  statements.push(`${create} revisions_raw AS ${await relation(revisions, REVISIONS_SCHEMA, revisionsSnap)}`);
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

/** The views a SQL text can refer to: `events`, and the state views (pages, revisions, current). */
export function viewsUsedBy(sql: string): { events: boolean; state: boolean } {
  return { events: /\bevents\b/i.test(sql), state: /\b(pages|revisions_raw|revisions|current)\b/i.test(sql) };
}

export async function bindStateViews(
  db: DuckDb,
  warehouse: Warehouse,
  events: { namespace: string; name: string },
  choice: SnapshotChoice = {},
  only?: { readonly events: boolean; readonly state: boolean },
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
