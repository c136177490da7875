// Iceberg schema → DuckDB SQL: column types (for typed empty relations and casts) and the
// FIELD_IDS option of COPY ... (FORMAT parquet), so Parquet files DuckDB writes carry the field
// ids Iceberg readers resolve columns by (iceberg-notes: readers match by id, not by name).

import { isList, isMap, isStruct, type IcebergType, type NestedField, type Schema } from '../iceberg/spec/types.js';

const PRIMITIVES: Record<string, string> = {
  boolean: 'BOOLEAN',
  int: 'INTEGER',
  long: 'BIGINT',
  float: 'FLOAT',
  double: 'DOUBLE',
  date: 'DATE',
  time: 'TIME',
  timestamp: 'TIMESTAMP',
  timestamptz: 'TIMESTAMPTZ',
  timestamp_ns: 'TIMESTAMP_NS',
  timestamptz_ns: 'TIMESTAMP_NS',
  string: 'VARCHAR',
  uuid: 'UUID',
  binary: 'BLOB',
};

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** DuckDB type of an Iceberg type. */
export function duckDbType(type: IcebergType): string {
  if (typeof type === 'string') {
    const primitive = PRIMITIVES[type];
    if (primitive !== undefined) return primitive;
    if (type.startsWith('decimal')) return type.toUpperCase().replace(/\s+/g, '');
    if (type.startsWith('fixed')) return 'BLOB';
    throw new Error(`no DuckDB type for Iceberg type ${type}`);
  }
  if (isStruct(type)) return `STRUCT(${type.fields.map((f) => `${quoteIdent(f.name)} ${duckDbType(f.type)}`).join(', ')})`;
  if (isList(type)) return `${duckDbType(type.element)}[]`;
  if (isMap(type)) return `MAP(${duckDbType(type.key)}, ${duckDbType(type.value)})`;
  throw new Error('unreachable Iceberg type');
}

/** `SELECT CAST(NULL AS t) AS c, ... WHERE false`: an empty relation with the schema's columns. */
export function emptyRelationSql(schema: Schema): string {
  return `SELECT ${schema.fields.map((f) => `CAST(NULL AS ${duckDbType(f.type)}) AS ${quoteIdent(f.name)}`).join(', ')} WHERE false`;
}

/**
 * `relation` (with the columns of `has`) as the columns of `want`, by name: a column `has` lacks
 * (a table written before the column was added, not yet evolved) reads as NULL; `extra` columns follow.
 */
export function conformedRelationSql(relation: string, has: Schema, want: Schema, extra: readonly string[] = []): string {
  const present = new Set(has.fields.map((f) => f.name));
  const columns = want.fields.map((f) => (present.has(f.name) ? quoteIdent(f.name) : `CAST(NULL AS ${duckDbType(f.type)}) AS ${quoteIdent(f.name)}`));
  return `SELECT ${[...columns, ...extra.map(quoteIdent)].join(', ')} FROM (${relation})`;
}

function fieldIdsOf(field: NestedField): string {
  const nested = nestedIds(field.type);
  return nested === undefined ? String(field.id) : `{__duckdb_field_id: ${field.id}, ${nested}}`;
}

function nestedIds(type: IcebergType): string | undefined {
  if (isStruct(type)) return type.fields.map((f) => `${quoteIdent(f.name)}: ${fieldIdsOf(f)}`).join(', ');
  if (isList(type)) return `element: ${idWithChildren(type.elementId, type.element)}`;
  if (isMap(type)) return `key: ${idWithChildren(type.keyId, type.key)}, value: ${idWithChildren(type.valueId, type.value)}`;
  return undefined;
}

function idWithChildren(id: number, type: IcebergType): string {
  const nested = nestedIds(type);
  return nested === undefined ? String(id) : `{__duckdb_field_id: ${id}, ${nested}}`;
}

/** The value of COPY's FIELD_IDS option for the schema's top-level columns. */
export function fieldIdsOption(schema: Schema): string {
  return `{${schema.fields.map((f) => `${quoteIdent(f.name)}: ${fieldIdsOf(f)}`).join(', ')}}`;
}

/** A SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * A DuckDB list literal of file paths for read_parquet([...]). DuckDB reads each as a glob: `*`,
 * `?` and `[` are escaped as one-character classes, or `/w[1]/f` would read `/w1/f`.
 */
export function sqlStringList(paths: readonly string[]): string {
  return `[${paths.map((p) => sqlString(p.replace(/[*?[]/g, '[$&]'))).join(', ')}]`;
}
