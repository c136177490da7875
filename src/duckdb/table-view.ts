// An Iceberg snapshot as a DuckDB view: read_parquet over the planned data files, minus the rows
// position-delete files remove (anti-join on file and row number; writers spell local paths
// `file:///p`, `file:/p` or `/p`). The view pins the snapshot: later commits do not change it.

import { JobError } from '../core/errors.js';
import type { PlannedFile } from '../iceberg/scan/plan.js';
import { DataFileContent } from '../iceberg/spec/manifest.js';
import { nestedNameChange } from '../iceberg/spec/schema-difference.js';
import type { Table } from '../iceberg/table.js';
import type { DuckDb } from './connection.js';
import { duckDbType, emptyRelationSql, quoteIdent, sqlString, sqlStringList } from './iceberg-types.js';

export type ViewSnapshot = { readonly snapshotId?: bigint; readonly empty?: boolean };

function localFile(table: Table, location: string): string {
  const local = table.storage.localPath(location);
  if (local === undefined) throw new JobError('CONFIG', `DuckDB can only read local files; ${location} is not one`);
  return local;
}

/**
 * Once the schema has evolved, read_parquet's `schema` option: columns by field id, as Iceberg
 * resolves them, so older files read a column added since as NULL and a renamed one under its new
 * name (by name, the view failed to bind, or mixed files failed to read). A current schema id
 * above 0 says so too once expiry has dropped the older schemas (Java's clean-expired-metadata).
 */
function byFieldId(table: Table): string {
  if (table.metadata.schemas.length <= 1 && table.metadata.currentSchemaId === 0) return '';
  // The option matches top-level columns only; inside them DuckDB matches by name.
  const changed = nestedNameChange(table.metadata.schemas, table.schema());
  if (changed !== undefined) {
    throw new JobError('DATA', `cannot read ${table.location}: its ${changed}; mwlake reads fields inside struct, list and map columns by name, so older files would read as NULL or another field's values. Undo the change, or read the table with an engine that resolves nested fields by id`, {
      context: { table: table.location },
    });
  }
  const columns = table.schema().fields.map((f) => `${f.id}: {name: ${sqlString(f.name)}, type: ${sqlString(duckDbType(f.type))}, default_value: NULL}`);
  return `, schema = MAP {${columns.join(', ')}}`;
}

/**
 * SQL of the rows of `dataFiles` that none of `deleteFiles` removes, in the table's columns; with
 * `positions`, also each row's local `filename` and `file_row_number` (what position deletes name).
 */
export function filesRelationSql(table: Table, dataFiles: readonly PlannedFile[], deleteFiles: readonly PlannedFile[], o: { positions?: boolean } = {}): string {
  // Others (equality deletes, Puffin deletion vectors, ORC or Avro data) would fail inside DuckDB
  // as a confusing error about the SQL, or be misread as position deletes.
  for (const [f, content] of [...dataFiles.map((f) => [f, DataFileContent.Data] as const), ...deleteFiles.map((f) => [f, DataFileContent.PositionDeletes] as const)]) {
    if (f.file.content !== content || f.file.fileFormat !== 'PARQUET') {
      const kind = f.file.content === DataFileContent.EqualityDeletes ? 'an equality delete file' : f.file.content === DataFileContent.PositionDeletes ? 'a position delete file' : 'a data file';
      throw new JobError('DATA', `${table.location} has ${kind} in ${f.file.fileFormat} (${f.file.filePath}); mwlake reads Parquet data and Parquet position delete files only`);
    }
  }
  const schema = table.schema();
  if (dataFiles.length === 0) return o.positions === true ? `SELECT *, NULL::VARCHAR AS filename, NULL::BIGINT AS file_row_number FROM (${emptyRelationSql(schema)})` : emptyRelationSql(schema);
  const columns = schema.fields.map((f) => quoteIdent(f.name)).join(', ') + (o.positions === true ? ', filename, file_row_number' : '');
  const files = sqlStringList(dataFiles.map((f) => localFile(table, f.file.filePath))) + byFieldId(table);
  if (deleteFiles.length === 0) return `SELECT ${columns} FROM read_parquet(${files}${o.positions === true ? ', filename = true, file_row_number = true' : ''})`;
  const deletes = sqlStringList(deleteFiles.map((f) => localFile(table, f.file.filePath)));
  // An anti join, not NOT EXISTS: DuckDB 1.5 fails a user's correlated subquery over a view built
  // on a correlated one (INTERNAL Error: Failed to bind column reference).
  const qualified = schema.fields.map((f) => `d.${quoteIdent(f.name)}`).join(', ') + (o.positions === true ? ', d.filename, d.file_row_number' : '');
  return `SELECT ${qualified} FROM read_parquet(${files}, filename = true, file_row_number = true) AS d
    ANTI JOIN (SELECT regexp_replace(file_path, '^file:(//)?', '') AS deleted_file, pos AS deleted_pos FROM read_parquet(${deletes})) AS x
      ON x.deleted_file = d.filename AND x.deleted_pos = d.file_row_number`;
}

/** SQL of a relation holding the rows of the table at the snapshot. */
export async function tableRelationSql(table: Table, o: ViewSnapshot = {}): Promise<string> {
  if (o.empty === true) return emptyRelationSql(table.schema());
  const plan = await table.planFiles(o.snapshotId === undefined ? {} : { snapshotId: o.snapshotId });
  return filesRelationSql(table, plan.dataFiles, plan.deleteFiles);
}

export async function createTableView(db: DuckDb, name: string, table: Table, o: ViewSnapshot = {}): Promise<void> {
  await db.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(name)} AS ${await tableRelationSql(table, o)}`);
}
