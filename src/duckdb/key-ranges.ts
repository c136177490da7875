// Splits a relation into consecutive key ranges of bounded size, for statements that must sort
// rows with large strings: DuckDB's sort does not spill them (1.5: sorting 319 MB of content
// failed under a 400 MB memory_limit), so such a sort runs once per range, each within budget.

import type { DuckDb } from './connection.js';

/** Rows whose key (compared column by column) lies from `from` to `to`, both inclusive. */
export interface KeyRange {
  readonly from: readonly bigint[];
  readonly to: readonly bigint[];
}

export interface KeyRangesOptions {
  /** A relation (a view name or a parenthesised query) with the key columns and what sizeSql reads. */
  readonly relation: string;
  /** Integer columns whose values, in order, identify a row. */
  readonly keys: readonly string[];
  /** A row's size in bytes, as SQL over the relation's columns; must be at least 1. */
  readonly sizeSql: string;
  readonly budgetBytes: number;
}

/**
 * The relation's rows as consecutive key ranges of at most `budgetBytes` each (a range exceeds it
 * by at most its first row; a row larger than the budget is a range of its own). None when all
 * rows fit in one: the caller then reads the relation unsplit.
 */
export async function keyRanges(db: DuckDb, o: KeyRangesOptions): Promise<KeyRange[]> {
  const budget = Math.max(1, Math.floor(o.budgetBytes));
  const [total] = await db.all<{ b: bigint | null }>(`SELECT sum(${o.sizeSql})::BIGINT AS b FROM ${o.relation}`);
  if (total === undefined || total.b === null || Number(total.b) <= budget) return [];
  // A range ends where the running total crosses a multiple of the budget.
  const order = o.keys.join(', ');
  const bounds = o.keys.flatMap((k, i) => [`arg_min(${k}, upto) AS f${i}`, `arg_max(${k}, upto) AS t${i}`]);
  const rows = await db.all<Record<string, bigint>>(`
    SELECT ${bounds.join(', ')}
    FROM (SELECT ${order}, sum(${o.sizeSql}) OVER (ORDER BY ${order} ROWS UNBOUNDED PRECEDING) AS upto FROM ${o.relation})
    GROUP BY (upto - 1) // ${budget}
    ORDER BY ${o.keys.map((_, i) => `f${i}`).join(', ')}`);
  return rows.map((r) => ({ from: o.keys.map((_, i) => r[`f${i}`]!), to: o.keys.map((_, i) => r[`t${i}`]!) }));
}

/** `keys` compared with `bound` in key order: (k1, k2) >= (a, b) as k1 > a OR (k1 = a AND k2 >= b). */
function compare(keys: readonly string[], bound: readonly bigint[], op: '>' | '<', inclusive = true): string {
  const [key, ...rest] = keys;
  const [value, ...restValues] = bound;
  if (rest.length === 0) return `${key} ${op}${inclusive ? '=' : ''} ${value}`;
  return `(${key} ${op} ${value} OR (${key} = ${value} AND ${compare(rest, restValues, op, inclusive)}))`;
}

/** SQL true for the rows of `range` (DuckDB has no row-value comparison for BIGINT pairs). */
export function inKeyRangeSql(keys: readonly string[], range: KeyRange): string {
  return `${compare(keys, range.from, '>')} AND ${compare(keys, range.to, '<')}`;
}

/**
 * SQL true for the rows from `ranges[i].from` up to, not including, the next range's `from`: each
 * row is in exactly one of them even when keys repeat (then inclusive ranges may share a key, and
 * a repeated key whose rows span several ranges lands in the last of them).
 */
export function inKeyRangeUpToNextSql(keys: readonly string[], ranges: readonly KeyRange[], i: number): string {
  const next = ranges[i + 1];
  const from = i === 0 ? 'true' : compare(keys, ranges[i]!.from, '>');
  return next === undefined ? from : `${from} AND ${compare(keys, next.from, '<', false)}`;
}
