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
  /**
   * Keys no range may span (one key column only): a range ends before each fence, so that the
   * rows written per range keep out of other files' key ranges, whose bounds the fences are.
   */
  readonly fences?: readonly bigint[];
}

/**
 * The relation's rows as consecutive key ranges of at most `budgetBytes` each (a range exceeds it
 * by at most its first row; a row larger than the budget is a range of its own), none spanning a
 * fence. None when all rows fit in one: the caller then reads the relation unsplit.
 */
export async function keyRanges(db: DuckDb, o: KeyRangesOptions): Promise<KeyRange[]> {
  const budget = Math.max(1, Math.floor(o.budgetBytes));
  return (await groupedRanges(db, o, budget, budget)).map(({ range }) => range);
}

/**
 * The relation's rows as consecutive groups of key ranges: the groups are keyRanges' ranges at a
 * budget of `groupBytes`, each cut into ranges of at most `budgetBytes` (plus one row). For files
 * larger than one sort may hold: a file per group, sorted range by range. None when all rows fit
 * in one range.
 */
export async function keyRangeGroups(db: DuckDb, o: KeyRangesOptions & { readonly groupBytes: number }): Promise<KeyRange[][]> {
  const group = Math.max(1, Math.floor(o.groupBytes));
  const groups: KeyRange[][] = [];
  let last: string | undefined;
  for (const r of await groupedRanges(db, o, group, Math.min(group, Math.max(1, Math.floor(o.budgetBytes))))) {
    if (r.group !== last) groups.push([]);
    groups[groups.length - 1]!.push(r.range);
    last = r.group;
  }
  return groups;
}

/** Ranges of at most `budget`, each in a group of at most `group` bytes (a multiple of it). */
async function groupedRanges(db: DuckDb, o: KeyRangesOptions, group: number, budget: number): Promise<{ readonly range: KeyRange; readonly group: string }[]> {
  const fences = [...new Set(o.fences ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (fences.length > 0 && o.keys.length !== 1) throw new Error(`keyRanges: fences need one key column, found ${o.keys.length}`);
  if (fences.length === 0) {
    const [total] = await db.all<{ b: bigint | null }>(`SELECT sum(${o.sizeSql})::BIGINT AS b FROM ${o.relation}`);
    if (total === undefined || total.b === null || Number(total.b) <= budget) return [];
  }
  // A row's segment: how many fences are at or below its key (an ASOF join finds the last one).
  const rows = fences.length === 0 ? `(SELECT *, 0 AS _segment FROM ${o.relation})` : `(SELECT r.*, coalesce(f.segment, 0) AS _segment FROM ${o.relation} r ASOF LEFT JOIN (VALUES ${fences.map((k, i) => `(${k}::BIGINT, ${i + 1})`).join(', ')}) f(fence, segment) ON r.${o.keys[0]} >= f.fence)`;
  // A range ends where the segment's running total crosses a multiple of the budget (within its
  // group's multiple of the group budget), or at the segment's end.
  const order = o.keys.join(', ');
  const bounds = o.keys.flatMap((k, i) => [`arg_min(${k}, upto) AS f${i}`, `arg_max(${k}, upto) AS t${i}`]);
  const found = await db.all<Record<string, bigint | string>>(`
    SELECT ${bounds.join(', ')}, _segment::VARCHAR || ':' || ((upto - 1) // ${group})::VARCHAR AS grp
    FROM (SELECT ${order}, _segment, sum(${o.sizeSql}) OVER (PARTITION BY _segment ORDER BY ${order} ROWS UNBOUNDED PRECEDING) AS upto FROM ${rows})
    GROUP BY _segment, (upto - 1) // ${group}, ((upto - 1) % ${group}) // ${budget}
    ORDER BY ${o.keys.map((_, i) => `f${i}`).join(', ')}, min(upto)`);
  if (found.length <= 1) return [];
  return found.map((r) => ({ range: { from: o.keys.map((_, i) => r[`f${i}`] as bigint), to: o.keys.map((_, i) => r[`t${i}`] as bigint) }, group: String(r['grp']) }));
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
