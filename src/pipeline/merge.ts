// `mwlake merge`: folds the events appended since the last merge into the state tables
// (src/merge SQL, run by DuckDB over only the touched files), merge-on-read: the rows a change
// replaces get position deletes, the new rows a new file. Each state table records the events
// snapshot it has merged up to; a crash between the two table commits is repaired by the next
// run (each table catches up from its own recorded snapshot), and readers bind a consistent pair
// (state-views.ts). The revisions table also folds in the legacy visibility change table, when
// there is one, and records how far it has merged that too. Event files are read with their
// position deletes applied, from where the events history still holds the recorded snapshot
// (merge-source.ts); keys a forced replay replaced events of are folded again (merge-refold.ts).

import { randomUUID } from 'node:crypto';
import { CommitStateUnknownError, ConfigError, JobError } from '../core/errors.js';
import { discardWritten, joinLocation } from '../core/storage.js';
import type { Logger } from '../core/log.js';
import { makeDirectory } from '../core/make-directory.js';
import { conformedRelationSql, emptyRelationSql, fieldIdsOption, quoteIdent, sqlString } from '../duckdb/iceberg-types.js';
import { filesRelationSql } from '../duckdb/table-view.js';
import { openDuckDb, type DuckDb } from '../duckdb/connection.js';
import { rowGroupRows, writeSortedDataFile } from '../duckdb/data-file-writer.js';
import { inKeyRangeSql, inKeyRangeUpToNextSql, keyRanges, type KeyRange } from '../duckdb/key-ranges.js';
import type { Warehouse } from '../iceberg/catalog.js';
import type { IncrementalPlan } from '../iceberg/scan/incremental.js';
import type { PlannedFile } from '../iceberg/scan/plan.js';
import type { Snapshot } from '../iceberg/spec/snapshot.js';
import type { CommitResult, Table } from '../iceberg/table.js';
import type { DataFile } from '../iceberg/spec/manifest.js';
import type { Schema } from '../iceberg/spec/types.js';
import { EVENTS_SCHEMA } from '../events/events-table.js';
import { VISIBILITY_EVENTS_SCHEMA } from '../events/visibility-change.js';
import { HISTORY_EVENT_FILTER_SQL, pageChangeOrderSql, VISIBILITY_EVENT_FILTER_SQL, visibilityChangeOrderSql } from '../merge/event-order.js';
import { deletedThenEditedSql, pageDeltaSql, pageMergeSql } from '../merge/page-merge.js';
import { revisionDeltaSql, revisionMergeSql, visibilityDeltaSql, withVisibilitySql } from '../merge/revision-merge.js';
import {
  openStateTable,
  PAGES_SCHEMA,
  PAGES_TABLE,
  REVISIONS_SCHEMA,
  REVISIONS_TABLE,
  SOURCE_SNAPSHOT_PROPERTY,
  SOURCE_TABLE_PROPERTY,
  STATE_NAMESPACE,
  STATE_ROW_BYTES_SQL,
  VISIBILITY_SOURCE_SNAPSHOT_PROPERTY,
  VISIBILITY_SOURCE_TABLE_PROPERTY,
} from '../merge/state-schema.js';
import { describePositionDeleteFile, POSITION_DELETE_SCHEMA } from '../parquet/footer-data-file.js';
import { mayHoldKeys } from './key-bounds.js';
import { createRefoldKeys, refoldRowsSql, type KeySource } from './merge-refold.js';
import { localPath, mergeRange, NOTHING, rowsSnapshotOf, rowsSql } from './merge-source.js';

export interface MergeOptions {
  readonly warehouse: Warehouse;
  readonly eventsNamespace: string;
  readonly eventsTable: string;
  /** The legacy revision visibility change table in the events namespace, if the job has one. */
  readonly visibilityTable?: string;
  readonly logger: Logger;
  /** Directory for DuckDB spill files; the merge sorts and joins larger than memory. */
  readonly tempDirectory?: string;
  readonly memoryLimit?: string;
  /**
   * Bytes of event content one pass of the revisions merge may hold (default: an eighth of DuckDB's
   * memory limit; a pass holds its content several times: delta, merged rows, the sorted write).
   */
  readonly passBytes?: number;
  readonly dryRun?: boolean;
  /** Called after each state table: how many of the tables are done. */
  readonly onProgress?: (p: { done: number; total: number; table: string }) => void;
  /** Test hook: called between the two table commits (crash tests kill the process here). */
  readonly afterFirstCommit?: () => Promise<void> | void;
}

export interface MergeTableResult {
  readonly table: string;
  readonly skipped: boolean;
  readonly fromSnapshotId?: string;
  readonly eventFiles: number;
  readonly rowsWritten: number;
  readonly rowsReplaced: number;
  readonly snapshotId?: string;
  /** Keys a forced replay replaced events of, folded again from all their events. */
  readonly refoldedKeys?: number;
  /** The memory passes that refold took, when more than one. */
  readonly refoldPasses?: number;
  readonly durationMs: number;
}

export interface MergeResult {
  readonly sourceSnapshotId?: string;
  /** The visibility change table's snapshot the revisions table has merged up to. */
  readonly visibilitySourceSnapshotId?: string;
  readonly tables: readonly MergeTableResult[];
}

interface StateTableDef {
  readonly name: typeof REVISIONS_TABLE | typeof PAGES_TABLE;
  readonly schema: Schema;
  readonly keyColumn: 'revision_id' | 'page_id';
  readonly deltaSql: (source: string) => string;
  readonly mergeSql: (delta: string, existing: string) => string;
  /** `(wiki_id, key)` rows of the merged rows (the relation given) that a person should check; logged as a warning. */
  readonly suspectSql?: (merged: string) => string;
  /** The event columns (dotted paths) that name a key of this table, in each events table. */
  readonly keyPaths: { readonly events: readonly string[]; readonly visibility?: readonly string[] };
  /** Whether legacy visibility changes fold into this table's delta (revisions only). */
  readonly visibility?: boolean;
  /**
   * For a table whose rows carry content: the event column the merge splits its passes by (each
   * pass a range of it, the table's key), and an event's size. Without it, one pass.
   */
  readonly passes?: { readonly eventKeySql: string; readonly eventBytesSql: string };
}

const STATE_TABLES: readonly StateTableDef[] = [
  { name: REVISIONS_TABLE, schema: REVISIONS_SCHEMA, keyColumn: 'revision_id', deltaSql: revisionDeltaSql, mergeSql: revisionMergeSql, visibility: true,
    keyPaths: { events: ['revision.rev_id'], visibility: ['rev_id'] },
    passes: { eventKeySql: 'revision.rev_id', eventBytesSql: 'coalesce(revision.rev_size, 0) + 512' } },
  // An undelete into a new page id also says the old id's page merged into it (page-merge.ts).
  { name: PAGES_TABLE, schema: PAGES_SCHEMA, keyColumn: 'page_id', deltaSql: pageDeltaSql, mergeSql: pageMergeSql, suspectSql: deletedThenEditedSql,
    keyPaths: { events: ['page.page_id', 'prior_state.page.page_id'] } },
];

export async function runMerge(options: MergeOptions): Promise<MergeResult> {
  const events = await options.warehouse.tryLoadTable(options.eventsNamespace, options.eventsTable);
  const target = events?.currentSnapshot();
  if (events === undefined || target === undefined) {
    const name = `${options.eventsNamespace}.${options.eventsTable}`;
    // State merged from a table that is gone: nothing to do would dump that state as current.
    if (events === undefined) {
      for (const stateName of [REVISIONS_TABLE, PAGES_TABLE]) {
        const state = await options.warehouse.tryLoadTable(STATE_NAMESPACE, stateName);
        const merged = state?.summaryProperty(SOURCE_SNAPSHOT_PROPERTY)?.value;
        if (merged === undefined) continue;
        throw new JobError('NOT_FOUND', `events table ${name} does not exist, yet ${STATE_NAMESPACE}.${stateName} merged up to its snapshot ${merged}: was it removed, or does the job name another table (events.namespace, events.table)?`, {
          context: { table: name, state: `${STATE_NAMESPACE}.${stateName}`, mergedSnapshot: merged },
        });
      }
    }
    options.logger.info({ table: name }, `merge: events table ${events === undefined ? 'does not exist yet' : 'is empty'}; nothing to do`);
    return { tables: [] };
  }
  const visibilityTable = options.visibilityTable === undefined ? undefined : await options.warehouse.tryLoadTable(options.eventsNamespace, options.visibilityTable);
  const visibilityTarget = visibilityTable?.currentSnapshot();
  const visibility = visibilityTable === undefined || visibilityTarget === undefined ? undefined : { table: visibilityTable, targetId: visibilityTarget.snapshotId };
  const db = await openDuckDb({ ...(options.memoryLimit === undefined ? {} : { memoryLimit: options.memoryLimit }) });
  try {
    await db.run("SET TimeZone = 'UTC'");
    if (options.tempDirectory !== undefined) await db.run(`SET temp_directory = ${sqlString(options.tempDirectory)}`);
    const results: MergeTableResult[] = [];
    // Both opened (and checked) first: a table refused must not follow the other one's commit.
    const tables: Table[] = [];
    for (const def of STATE_TABLES) {
      const sources = def.visibility === true ? visibility : undefined;
      const verify = (table: Table) => sameSources(`${STATE_NAMESPACE}.${def.name}`, table, events, sources, options.warehouse);
      tables.push(await openStateTable(options.warehouse, def.name, { verify, ...(options.dryRun === true ? { dryRun: true } : {}) }));
    }
    for (const [index, def] of STATE_TABLES.entries()) {
      results.push(await mergeTable(db, events, target.snapshotId, tables[index]!, def, options, def.visibility === true ? visibility : undefined));
      options.onProgress?.({ done: index + 1, total: STATE_TABLES.length, table: `${STATE_NAMESPACE}.${def.name}` });
      if (index === 0) await options.afterFirstCommit?.();
    }
    return { sourceSnapshotId: target.snapshotId.toString(), ...(visibility === undefined ? {} : { visibilitySourceSnapshotId: visibility.targetId.toString() }), tables: results };
  } finally {
    await db.close();
  }
}

/**
 * The state tables are one warehouse's, not one job's: a second job (another events table) merging
 * into them would mix its pages into the first's, reading the first's recorded snapshot as
 * history its table lost. State merged before the uuid was recorded takes any table.
 */
function sameSources(name: string, state: Table, events: Table, visibility: VisibilitySource | undefined, warehouse: Warehouse): void {
  const base = state.currentSnapshot();
  sameSource(name, state, base, events, SOURCE_TABLE_PROPERTY, warehouse);
  if (visibility !== undefined) sameSource(name, state, base, visibility.table, VISIBILITY_SOURCE_TABLE_PROPERTY, warehouse);
}

function sameSource(name: string, state: Table, base: Snapshot | undefined, source: Table, property: string, warehouse: Warehouse): void {
  const recorded = state.summaryProperty(property, base)?.value;
  if (recorded === undefined || recorded === source.metadata.tableUuid) return;
  throw new ConfigError(
    `${name} merges from another events table (uuid ${recorded}) than this job's ${source.location} (uuid ${source.metadata.tableUuid}): ` +
      `a warehouse holds the state of one job, so give each job its own warehouse. If this job's events table was re-created on purpose, ` +
      `remove ${joinLocation(warehouse.rootLocation, STATE_NAMESPACE)} and merge again to rebuild the state from its live events`,
    { context: { table: name, recorded, current: source.metadata.tableUuid } },
  );
}

/** The legacy visibility change table and its snapshot a merge reads up to. */
interface VisibilitySource {
  readonly table: Table;
  readonly targetId: bigint;
}

async function mergeTable(
  db: DuckDb,
  events: Table,
  targetId: bigint,
  table: Table,
  def: StateTableDef,
  options: MergeOptions,
  visibility?: VisibilitySource,
): Promise<MergeTableResult> {
  const started = performance.now();
  const stateName = `${STATE_NAMESPACE}.${def.name}`;
  const base = table.currentSnapshot();
  const recorded = table.summaryProperty(SOURCE_SNAPSHOT_PROPERTY, base)?.value;
  const done = (extra: Partial<MergeTableResult>): MergeTableResult => ({
    table: stateName,
    skipped: false,
    eventFiles: 0,
    rowsWritten: 0,
    rowsReplaced: 0,
    ...(recorded === undefined ? {} : { fromSnapshotId: recorded }),
    durationMs: Math.round(performance.now() - started),
    ...extra,
  });
  const range = (source: Table, sourceTargetId: bigint, property: string) =>
    mergeRange({ source, targetId: sourceTargetId, state: table, stateName, property, logger: options.logger });
  const eventPlan = await range(events, targetId, SOURCE_SNAPSHOT_PROPERTY);
  const visibilityPlan = visibility === undefined ? NOTHING : await range(visibility.table, visibility.targetId, VISIBILITY_SOURCE_SNAPSHOT_PROPERTY);
  const changes = (p: IncrementalPlan) => p.dataFiles.length + p.deleteFiles.length > 0;
  if (!changes(eventPlan) && !changes(visibilityPlan)) return done({ skipped: true });
  const eventFiles = eventPlan.dataFiles;
  const visibilityFiles = visibilityPlan.dataFiles;
  // How far this merge reads, recorded with its commit. Without event changes the page change
  // source stays where it was: the pages table, which has nothing to merge, keeps its own, and
  // readers pair the two tables by that source.
  const source = changes(eventPlan) ? rowsSnapshotOf(events, targetId).toString() : recorded;
  const sources = {
    ...(source === undefined ? {} : { [SOURCE_SNAPSHOT_PROPERTY]: source, [SOURCE_TABLE_PROPERTY]: events.metadata.tableUuid }),
    ...(visibility === undefined ? {} : { [VISIBILITY_SOURCE_SNAPSHOT_PROPERTY]: visibility.targetId.toString(), [VISIBILITY_SOURCE_TABLE_PROPERTY]: visibility.table.metadata.tableUuid }),
  };

  const eventRows = rowsSql(events, eventFiles, eventPlan.deleteFiles, EVENTS_SCHEMA);
  const visibilityRows = visibility === undefined || visibilityFiles.length === 0 ? undefined : rowsSql(visibility.table, visibilityFiles, visibilityPlan.deleteFiles, VISIBILITY_EVENTS_SCHEMA);
  // Keys whose stored events a forced replay replaced: folded again from scratch in a pass of their own.
  const keySources: KeySource[] = [
    { table: events, snapshotId: targetId, schema: EVENTS_SCHEMA, deleteFiles: eventPlan.deleteFiles, rangeFiles: eventPlan.unfoldedOnly ? eventFiles : [], wikiColumn: 'wiki_id', keyPaths: def.keyPaths.events },
    ...(visibility === undefined || def.keyPaths.visibility === undefined
      ? []
      : [{ table: visibility.table, snapshotId: visibility.targetId, schema: VISIBILITY_EVENTS_SCHEMA, deleteFiles: visibilityPlan.deleteFiles, rangeFiles: visibilityPlan.unfoldedOnly ? visibilityFiles : [], wikiColumn: 'database', keyPaths: def.keyPaths.visibility }]),
  ];
  // A table never merged into (a rebuild) holds no row an equal key could fail to replace: its
  // passes fold every key from all live events anyway, within the memory budget.
  const refolded = await createRefoldKeys(db, def.keyColumn, base === undefined ? [] : keySources);
  const budgetBytes = options.passBytes ?? (await db.memoryLimitBytes()) / 8;
  // Key ranges of the events `rows` (a FROM clause ending in its WHERE) that each hold at most the budget's content.
  const passesOver = async (rows: string): Promise<KeyRange[]> =>
    def.passes === undefined
      ? []
      : keyRanges(db, {
          // One row per key: a range must never split one revision's events.
          relation: `(SELECT ${def.passes.eventKeySql} AS key, sum(${def.passes.eventBytesSql}) AS b FROM ${rows} AND ${def.passes.eventKeySql} IS NOT NULL GROUP BY 1)`,
          keys: ['key'],
          sizeSql: 'b',
          budgetBytes,
        });
  const passes = await passesOver(`${eventRows} WHERE ${HISTORY_EVENT_FILTER_SQL}`);

  // Every file this merge writes, named before it is written: a merge that surely did not commit
  // removes them, so one retried on a full disk does not fill it further.
  const written: string[] = [];
  let result: CommitResult;
  let rowsWritten: number;
  let rowsReplaced: number;
  let counts: Partial<MergeTableResult>;
  let refoldPasses: KeyRange[] = [];
  try {
    const totals = { written: 0, replaced: 0, dataFiles: [] as DataFile[], suspects: [] as string[] };
    const add = (r: typeof totals) => {
      totals.written += r.written;
      totals.replaced += r.replaced;
      totals.dataFiles.push(...r.dataFiles);
      totals.suspects.push(...r.suspects);
    };
    const inRefold = `(wiki_id, ${def.keyColumn}) IN (SELECT wiki_id, ${def.keyColumn} FROM refold)`;
    await db.run('CREATE OR REPLACE TEMP TABLE replaced (wiki_id VARCHAR, _file VARCHAR, _pos BIGINT)');
    for (const [index, pass] of (passes.length === 0 ? [undefined] : passes).entries()) {
      // A view, not a table: the delta reads only the columns it needs, and no pass holds all events.
      const inPass = pass === undefined ? '' : ` AND ${inKeyRangeSql([def.passes!.eventKeySql], pass)}`;
      await db.run(`CREATE OR REPLACE TEMP VIEW ev AS ${pageChangeOrderSql(`${eventRows} WHERE ${HISTORY_EVENT_FILTER_SQL}${inPass}`)}`);
      if (visibilityRows === undefined) await db.run(`CREATE OR REPLACE TEMP TABLE delta AS ${def.deltaSql('ev')}`);
      else await foldVisibility(db, def, visibilityRows, passes, index);
      if (refolded > 0) await db.run(`DELETE FROM delta WHERE ${inRefold}`);
      add(await mergeDelta(db, table, def, options, 'delta', written));
    }
    if (refolded > 0) {
      const [eventSource, visibilitySource] = keySources;
      const refoldEvents = `${await refoldRowsSql(db, def.keyColumn, eventSource!)} WHERE ${HISTORY_EVENT_FILTER_SQL}`;
      const refoldVisibility = visibilitySource === undefined ? undefined : await refoldRowsSql(db, def.keyColumn, visibilitySource);
      // In memory passes too: a replay of a large window names many keys, each with all its events.
      // Each refold key is in exactly one pass, also one no live event names any more (its row goes).
      refoldPasses = await passesOver(refoldEvents);
      for (const index of (refoldPasses.length === 0 ? [0] : refoldPasses.keys())) {
        const inPass = (key: string) => (refoldPasses.length === 0 ? '' : ` AND ${inKeyRangeUpToNextSql([key], refoldPasses, index)}`);
        await db.run(`CREATE OR REPLACE TEMP TABLE refold_pass AS SELECT * FROM refold WHERE true${inPass(def.keyColumn)}`);
        await db.run(`CREATE OR REPLACE TEMP VIEW ev AS ${pageChangeOrderSql(`${refoldEvents}${def.passes === undefined ? '' : inPass(def.passes.eventKeySql)}`)}`);
        if (refoldVisibility === undefined) await db.run(`CREATE OR REPLACE TEMP TABLE delta AS ${def.deltaSql('ev')}`);
        else await foldVisibility(db, def, refoldVisibility, refoldPasses, index);
        // An undelete's event also names its other page id: only refolded keys are whole here.
        await db.run(`DELETE FROM delta WHERE (wiki_id, ${def.keyColumn}) NOT IN (SELECT wiki_id, ${def.keyColumn} FROM refold_pass)`);
        add(await mergeDelta(db, table, def, options, 'refold_pass', written));
      }
    }
    ({ written: rowsWritten, replaced: rowsReplaced } = totals);
    const { dataFiles, suspects } = totals;
    if (suspects.length > 0) {
      const shown = suspects.slice(0, 20).join(', ') + (suspects.length > 20 ? ', ...' : '');
      options.logger.warn(
        { table: def.name, count: suspects.length, keys: suspects.slice(0, 20) },
        `merge: ${suspects.length} deleted page(s) had an edit saved after their delete (${shown}): an undelete whose event was lost? They stay deleted, in the dumps too, until an undelete or delete event of theirs arrives; check them against the wiki`,
      );
    }
    counts = { eventFiles: eventFiles.length, rowsWritten, rowsReplaced, ...(refolded > 0 ? { refoldedKeys: refolded } : {}), ...(refoldPasses.length > 1 ? { refoldPasses: refoldPasses.length } : {}) };
    if (options.dryRun === true) return done(counts);
    if (rowsWritten === 0 && rowsReplaced === 0) {
      // Nothing changed (e.g. only duplicates): still record how far we merged, so the next run skips them.
      const result = await table.commit({
        operation: 'append',
        summary: { ...sources, 'mwlake.merge.event-files': String(eventFiles.length) },
        requireCurrentSnapshotId: base?.snapshotId ?? null,
      });
      return done({ ...counts, snapshotId: result.snapshot.snapshotId.toString() });
    }

    const deleteFiles = await writePositionDeletes(db, table, written);
    result = await table.commit({
      operation: dataFiles.length === 0 ? 'delete' : deleteFiles.length > 0 ? 'overwrite' : 'append',
      addDataFiles: dataFiles,
      addDeleteFiles: deleteFiles,
      summary: {
        ...sources,
        'mwlake.merge.event-files': String(eventFiles.length),
        ...(visibilityFiles.length > 0 ? { 'mwlake.merge.visibility-files': String(visibilityFiles.length) } : {}),
        'mwlake.merge.rows-written': String(rowsWritten),
        'mwlake.merge.rows-replaced': String(rowsReplaced),
        ...(passes.length > 1 ? { 'mwlake.merge.passes': String(passes.length) } : {}),
        ...(refolded > 0 ? { 'mwlake.merge.refolded-keys': String(refolded) } : {}),
        ...(refoldPasses.length > 1 ? { 'mwlake.merge.refold-passes': String(refoldPasses.length) } : {}),
      },
      requireCurrentSnapshotId: base?.snapshotId ?? null,
    });
  } catch (error) {
    if (!(error instanceof CommitStateUnknownError)) await discardWritten(table.storage, written);
    throw error;
  }
  options.logger.info({ table: def.name, rowsWritten, rowsReplaced, passes: Math.max(1, passes.length), refolded, refoldPasses: refoldPasses.length, snapshotId: result.snapshot.snapshotId.toString() }, 'merge: committed');
  return done({ ...counts, snapshotId: result.snapshot.snapshotId.toString() });
}

/**
 * Merges the temp table `delta` into the stored rows of the keys of `keys` (`delta` itself, or
 * `refold_pass`, the refolded keys of one pass: then every stored row of those keys goes, and the delta, folded from all their
 * events, says all there is of them). Writes the merged rows and notes the replaced ones.
 */
async function mergeDelta(
  db: DuckDb,
  table: Table,
  def: StateTableDef,
  options: MergeOptions,
  keys: 'delta' | 'refold_pass',
  written: string[],
): Promise<{ written: number; replaced: number; dataFiles: DataFile[]; suspects: string[] }> {
  const live = await liveFilesTouching(db, table, def, keys);
  // A refold replaces every stored row of its keys: their positions are all it needs of them.
  const positionsOnly = keys === 'refold_pass';
  await loadExisting(db, table, def, live, keys, positionsOnly);
  let replaced = 0;
  if (positionsOnly) {
    await db.run('INSERT INTO replaced SELECT wiki_id, _file, _pos FROM existing');
    const [stored] = await db.all<{ n: bigint }>('SELECT count(*) AS n FROM existing');
    replaced = Number(stored!.n);
    await createEmptyExisting(db, def);
  }
  await db.run(`CREATE OR REPLACE TEMP TABLE merged AS ${def.mergeSql('delta', 'existing')}`);
  await db.run('DROP TABLE delta');
  await db.run('DROP TABLE existing');
  const [counts] = await db.all<{ written: bigint; replaced: bigint }>('SELECT count(*) AS written, count(_file) AS replaced FROM merged');
  const suspects = def.suspectSql === undefined ? [] : (await db.all<{ k: string }>(`SELECT wiki_id || ':' || key::VARCHAR AS k FROM (${def.suspectSql('merged')}) ORDER BY 1`)).map((r) => r.k);
  const dataFiles = options.dryRun === true ? [] : await writeMergedRows(db, table, def, written);
  await db.run('INSERT INTO replaced SELECT wiki_id, _file, _pos FROM merged WHERE _file IS NOT NULL');
  await db.run('DROP TABLE merged');
  return { written: Number(counts!.written), replaced: replaced + Number(counts!.replaced), dataFiles, suspects };
}

/**
 * The pass's delta with the legacy visibility changes folded in. Those rows belong to the pass
 * whose range reaches up to the next pass's start, so every one is in exactly one pass, also when
 * no page change of its revision is.
 */
async function foldVisibility(db: DuckDb, def: StateTableDef, visibilityRows: string, passes: readonly KeyRange[], index: number): Promise<void> {
  const inPass = passes.length === 0 ? '' : ` AND ${inKeyRangeUpToNextSql(['rev_id'], passes, index)}`;
  await db.run(`CREATE OR REPLACE TEMP TABLE delta_events AS ${def.deltaSql('ev')}`);
  await db.run(
    `CREATE OR REPLACE TEMP VIEW vev AS ${visibilityChangeOrderSql(`${visibilityRows} WHERE ${VISIBILITY_EVENT_FILTER_SQL}${inPass}`)}`,
  );
  await db.run(`CREATE OR REPLACE TEMP TABLE delta AS ${withVisibilitySql('delta_events', `(${visibilityDeltaSql('vev')})`)}`);
  await db.run('DROP TABLE delta_events');
}

/**
 * Data files whose wiki partition and key bounds could hold a delta key: the merge reads only
 * these, so its cost follows the delta, not the table (new revision ids land in new files).
 */
async function liveFilesTouching(db: DuckDb, table: Table, def: StateTableDef, keys: string): Promise<{ data: PlannedFile[]; deletes: PlannedFile[] }> {
  const rows = await db.all<{ wiki_id: string; keys: bigint[] }>(
    `SELECT wiki_id, list(${def.keyColumn} ORDER BY ${def.keyColumn}) AS keys FROM ${keys} GROUP BY wiki_id`,
  );
  const keysByWiki = new Map(rows.map((r) => [r.wiki_id, r.keys.map((k) => BigInt(k))]));
  const keyFieldId = def.schema.fields.find((f) => f.name === def.keyColumn)!.id;
  const plan = await table.planFiles({
    filter: (file: DataFile) => mayHoldKeys(file, keysByWiki, [keyFieldId]),
  });
  return { data: plan.dataFiles, deletes: plan.deleteFiles };
}

/** The temp table `existing` with no rows. */
async function createEmptyExisting(db: DuckDb, def: StateTableDef): Promise<void> {
  await db.run(`CREATE OR REPLACE TEMP TABLE existing AS SELECT *, NULL::VARCHAR AS _file, NULL::BIGINT AS _pos FROM (${emptyRelationSql(def.schema)})`);
}

/**
 * The temp table `existing`: the stored rows of the keys of `keys`, with their file and position;
 * with `positionsOnly`, of each row only its wiki, key, file and position (no content is read).
 */
async function loadExisting(db: DuckDb, table: Table, def: StateTableDef, live: { data: PlannedFile[]; deletes: PlannedFile[] }, keys: string, positionsOnly = false): Promise<void> {
  if (live.data.length === 0) {
    await createEmptyExisting(db, def);
    return;
  }
  // read_parquet reports local paths; position deletes must name the manifest's file_path.
  const pairs = live.data.map((f) => `(${sqlString(localPath(table, f.file.filePath))}, ${sqlString(f.file.filePath)})`).join(', ');
  await db.run(`CREATE OR REPLACE TEMP TABLE live_files(local VARCHAR, uri VARCHAR)`);
  await db.run(`INSERT INTO live_files VALUES ${pairs}`);
  // By field id once the table has evolved; a column a dry run's unevolved table lacks is NULL.
  const rows = conformedRelationSql(filesRelationSql(table, live.data, live.deletes, { positions: true }), table.schema(), def.schema, ['filename', 'file_row_number']);
  const columns = positionsOnly ? `t.wiki_id, t.${def.keyColumn}` : 't.* EXCLUDE (filename, file_row_number)';
  await db.run(`CREATE OR REPLACE TEMP TABLE existing AS
    SELECT ${columns}, lf.uri AS _file, t.file_row_number AS _pos
    FROM (${rows}) t
    JOIN live_files lf ON lf.local = t.filename
    SEMI JOIN ${keys} d ON d.wiki_id = t.wiki_id AND d.${def.keyColumn} = t.${def.keyColumn}`);
}

/** The rows of `merged`, one data file per wiki, in the table's sort order (by key); each file's location is added to `written`. */
async function writeMergedRows(db: DuckDb, table: Table, def: StateTableDef, written: string[]): Promise<DataFile[]> {
  const wikis = (await db.all<{ wiki_id: string }>('SELECT DISTINCT wiki_id FROM merged ORDER BY wiki_id')).map((r) => r.wiki_id);
  const columns = def.schema.fields.map((f) => quoteIdent(f.name)).join(', ');
  const dataFiles: DataFile[] = [];
  for (const wiki of wikis) {
    const ofWiki = `wiki_id = ${sqlString(wiki)}`;
    const [size] = await db.all<{ b: number | null }>(`SELECT avg(${STATE_ROW_BYTES_SQL[def.name]})::DOUBLE AS b FROM merged WHERE ${ofWiki}`);
    const file = await writeSortedDataFile(db, table, { selectSql: `SELECT ${columns} FROM merged WHERE ${ofWiki}`, partition: [wiki], rowGroupSize: rowGroupRows(size?.b ?? 0), nameSuffix: '-merge' });
    if (file !== undefined) written.push(file.filePath);
    if (file !== undefined) dataFiles.push(file);
  }
  return dataFiles;
}

/**
 * The positions the merge replaced (table `replaced`), one position delete file per data file they
 * are in, naming it (Java's file granularity): a delete file for a whole wiki would apply to every
 * file of the wiki's partition, and compaction would rewrite them all each night. Each file's
 * location is added to `written` before it is written.
 */
async function writePositionDeletes(db: DuckDb, table: Table, written: string[]): Promise<DataFile[]> {
  // Numbered and in order once: each file's COPY then reads only the row groups of its number
  // (DuckDB's zone maps; they keep 8 bytes of a string, and the paths share a longer prefix).
  await db.run(`CREATE OR REPLACE TEMP TABLE replaced_files AS SELECT wiki_id, _file AS file, row_number() OVER (ORDER BY wiki_id, _file) AS i FROM (SELECT DISTINCT wiki_id, _file FROM replaced)`);
  await db.run(`CREATE OR REPLACE TEMP TABLE replaced_positions AS SELECT f.i, r._pos AS pos FROM replaced r JOIN replaced_files f ON f.file = r._file ORDER BY f.i, r._pos`);
  const rows = await db.all<{ wiki_id: string; file: string; i: bigint }>('SELECT wiki_id, file, i FROM replaced_files ORDER BY i');
  const deleteFiles: DataFile[] = [];
  for (const { wiki_id: wiki, file, i } of rows) {
    const directory = table.dataLocation(`wiki_id=${encodeURIComponent(wiki)}`);
    const deleteLocation = `${directory}/${randomUUID()}-deletes.parquet`;
    await makeDirectory(localPath(table, directory));
    written.push(deleteLocation);
    await db.run(`COPY (SELECT ${sqlString(file)} AS file_path, pos FROM replaced_positions WHERE i = ${i} ORDER BY pos)
      TO ${sqlString(localPath(table, deleteLocation))} (FORMAT parquet, COMPRESSION zstd, FIELD_IDS ${fieldIdsOption(POSITION_DELETE_SCHEMA)})`);
    deleteFiles.push(await describePositionDeleteFile({ storage: table.storage, location: deleteLocation, partition: [wiki], referencedDataFile: file }));
  }
  return deleteFiles;
}
