// Binds the query views (`events`, `revisions_raw`, `pages`, `revisions`, `current`) to one
// consistent set of snapshots: the pages snapshot chosen (current, --as-of or --snapshot) and the
// revisions snapshot that merged up to the same events snapshot. Merge commits revisions first,
// so after a crash between the two commits readers still see a matching pair.

import { JobError } from '../core/errors.js';
import { createTableView } from '../duckdb/table-view.js';
import type { DuckDb } from '../duckdb/connection.js';
import type { Warehouse } from '../iceberg/catalog.js';
import type { Snapshot } from '../iceberg/spec/snapshot.js';
import type { Table } from '../iceberg/table.js';
import { currentViewSql, revisionsViewSql } from '../merge/views.js';
import { PAGES_TABLE, REVISIONS_TABLE, SOURCE_SNAPSHOT_PROPERTY, STATE_NAMESPACE } from '../merge/state-schema.js';
import { openStateTable } from './merge.js';

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

export async function bindStateViews(db: DuckDb, warehouse: Warehouse, events: { namespace: string; name: string }, choice: SnapshotChoice = {}): Promise<BoundSnapshots> {
  const pages = await openStateTable(warehouse, PAGES_TABLE);
  const revisions = await openStateTable(warehouse, REVISIONS_TABLE);
  const pagesSnap = chosen(pages, choice);
  const source = pagesSnap === undefined ? undefined : pages.summaryProperty(SOURCE_SNAPSHOT_PROPERTY, pagesSnap)?.value;
  const revisionsSnap =
    source === undefined
      ? undefined
      : ancestors(revisions, revisions.currentSnapshot()).find((s) => revisions.summaryProperty(SOURCE_SNAPSHOT_PROPERTY, s)?.value === source);
  const eventsTable = await warehouse.tryLoadTable(events.namespace, events.name);
  const eventsSnap = eventsTable === undefined ? undefined : choice.snapshotId !== undefined ? eventsTable.currentSnapshot() : chosen(eventsTable, choice);

  if (eventsTable !== undefined) await createTableView(db, 'events', eventsTable, snapshotOption(eventsSnap));
  await createTableView(db, 'pages', pages, snapshotOption(pagesSnap));
  await createTableView(db, 'revisions_raw', revisions, snapshotOption(revisionsSnap));
  await db.run(`CREATE OR REPLACE VIEW revisions AS ${revisionsViewSql('revisions_raw', 'pages')}`);
  await db.run(`CREATE OR REPLACE VIEW current AS ${currentViewSql('revisions')}`);
  return {
    ...(eventsSnap === undefined ? {} : { events: eventsSnap.snapshotId.toString() }),
    ...(pagesSnap === undefined ? {} : { pages: pagesSnap.snapshotId.toString() }),
    ...(revisionsSnap === undefined ? {} : { revisions: revisionsSnap.snapshotId.toString() }),
    ...(source === undefined ? {} : { sourceSnapshotId: source }),
  };
}

/** Binds the empty snapshot (no rows) when a table has none at the chosen point. */
function snapshotOption(s: Snapshot | undefined): { snapshotId?: bigint; empty?: boolean } {
  return s === undefined ? { empty: true } : { snapshotId: s.snapshotId };
}

export { STATE_NAMESPACE };
