// A forced replay (`drain --force`) replaces stored events with the same events read again: the
// same meta.id, meta.dt and offset, so the same merge key, and an equal key never wins over the
// stored one (event-order.ts). So the keys the replaced rows named are folded again from scratch:
// their state rows go, and all their live events (position deletes applied) make new ones.

import type { DuckDb } from '../duckdb/connection.js';
import { sqlStringList } from '../duckdb/iceberg-types.js';
import type { PlannedFile } from '../iceberg/scan/plan.js';
import { findFieldByPath } from '../iceberg/spec/transform.js';
import type { Schema } from '../iceberg/spec/types.js';
import type { Table } from '../iceberg/table.js';
import { mayHoldKeys } from './key-bounds.js';
import { deletedPositionsSql, localPath, rowsSql } from './merge-source.js';

/** An events table as a source of state keys. */
export interface KeySource {
  readonly table: Table;
  /** The snapshot whose live rows are the events to fold. */
  readonly snapshotId: bigint;
  readonly schema: Schema;
  /** Position delete files of the merged range: the rows they remove name the keys to fold again. */
  readonly deleteFiles: readonly PlannedFile[];
  /**
   * Data files of the merged range the state never folded (all of them when the range starts
   * where its fold ended): rows removed from them (a replay's repeats of rows kept before its
   * window, written and removed in one commit) name no key to fold again.
   */
  readonly rangeFiles: readonly PlannedFile[];
  readonly wikiColumn: string;
  /** The columns (dotted paths) that name a state key. */
  readonly keyPaths: readonly string[];
}

/**
 * Creates the temp table `refold` (wiki_id, `keyColumn`): the keys the rows the sources' deletes
 * removed name. Returns how many there are.
 */
export async function createRefoldKeys(db: DuckDb, keyColumn: string, sources: readonly KeySource[]): Promise<number> {
  await db.run(`CREATE OR REPLACE TEMP TABLE refold (wiki_id VARCHAR, ${keyColumn} BIGINT)`);
  for (const s of sources) {
    if (s.deleteFiles.length === 0) continue;
    const deletes = sqlStringList(s.deleteFiles.map((f) => localPath(s.table, f.file.filePath)));
    const named = await db.all<{ file_path: string }>(`SELECT DISTINCT file_path FROM read_parquet(${deletes})`);
    // The replaced rows are still in their files (the deletes only hide them).
    const unfolded = new Set(s.rangeFiles.map((f) => f.file.filePath));
    const files = named.map((r) => r.file_path).filter((f) => !unfolded.has(f));
    if (files.length === 0) continue;
    const keys = s.keyPaths.map((p) => `SELECT ${s.wikiColumn} AS w, ${p} AS k FROM gone`).join(' UNION ALL ');
    await db.run(`INSERT INTO refold
      WITH gone AS (
        SELECT e.* FROM read_parquet(${sqlStringList(files.map((f) => localPath(s.table, f)))}, union_by_name = true, filename = true, file_row_number = true) e
        SEMI JOIN (${deletedPositionsSql(s.table, files, s.deleteFiles)}) x ON x.filename = e.filename AND x.pos = e.file_row_number)
      SELECT DISTINCT w, k FROM (${keys}) WHERE w IS NOT NULL AND k IS NOT NULL
        AND (w, k) NOT IN (SELECT wiki_id, ${keyColumn} FROM refold)`);
  }
  const [row] = await db.all<{ n: bigint }>('SELECT count(*) AS n FROM refold');
  return Number(row!.n);
}

/**
 * SQL (to follow FROM) of the live rows of the source that name a key of `refold`: the files that
 * may hold one by their wiki and bounds, deletes applied.
 */
export async function refoldRowsSql(db: DuckDb, keyColumn: string, s: KeySource): Promise<string> {
  const rows = await db.all<{ wiki_id: string; keys: bigint[] }>(`SELECT wiki_id, list(${keyColumn} ORDER BY ${keyColumn}) AS keys FROM refold GROUP BY wiki_id`);
  const keysByWiki = new Map(rows.map((r) => [r.wiki_id, r.keys.map((k) => BigInt(k))]));
  const fieldIds = s.keyPaths.map((p) => findFieldByPath(s.table.schema(), p)?.id);
  const plan = await s.table.planFiles({ snapshotId: s.snapshotId, filter: (file) => mayHoldKeys(file, keysByWiki, fieldIds) });
  const named = s.keyPaths.map((p) => `(${s.wikiColumn}, ${p}) IN (SELECT wiki_id, ${keyColumn} FROM refold)`).join(' OR ');
  return `(SELECT * FROM ${rowsSql(s.table, plan.dataFiles, plan.deleteFiles, s.schema)} WHERE ${named})`;
}
