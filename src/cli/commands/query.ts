// `mwlake query`: DuckDB SQL over the views events, pages, revisions_raw, revisions and current,
// bound to one consistent set of snapshots (current, --as-of or --snapshot). Rows stream to stdout
// as JSON lines, a JSON array, CSV or a table, or to a file (csv, json, parquet) with --out.
// --emit-views prints the CREATE VIEW statements for the DuckDB CLI instead.

import { JobError } from '../../core/errors.js';
import { stringifyJsonBigInt } from '../../core/json-bigint.js';
import type { DuckDb } from '../../duckdb/connection.js';
import { sqlString } from '../../duckdb/iceberg-types.js';
import type { SnapshotChoice } from '../../pipeline/state-views.js';
import { warehouseOf } from '../../pipeline/warehouse.js';
import type { CliContext, RegisterCommand } from '../context.js';
import { common, config, type CommonFlags } from './jobs.js';
import { parseIsoTime } from '../iso-time.js';

const FORMATS = ['jsonl', 'json', 'csv', 'table', 'parquet'] as const;
type Format = (typeof FORMATS)[number];

interface QueryFlags extends CommonFlags {
  asOf?: string;
  snapshot?: string;
  format: string;
  out?: string;
  emitViews?: boolean;
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const text = typeof v === 'string' ? v : typeof v === 'object' && !(v instanceof Date) ? stringifyJsonBigInt(v) : String(v);
  // An empty string quoted, as DuckDB's CSV writer (--out) does: an empty cell is NULL.
  return text === '' || /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function choiceOf(flags: QueryFlags): SnapshotChoice {
  if (flags.asOf !== undefined && flags.snapshot !== undefined) throw new JobError('USAGE', 'give --as-of or --snapshot, not both');
  if (flags.asOf !== undefined) {
    const asOfMs = parseIsoTime(flags.asOf);
    if (asOfMs === undefined) throw new JobError('USAGE', `--as-of must be an ISO time such as 2026-11-02T00:00:00Z (no offset: UTC), found ${JSON.stringify(flags.asOf)}`);
    return { asOfMs };
  }
  if (flags.snapshot !== undefined) {
    if (!/^\d+$/.test(flags.snapshot)) throw new JobError('USAGE', `--snapshot must be a snapshot id of state.pages, found ${JSON.stringify(flags.snapshot)}`);
    return { snapshotId: BigInt(flags.snapshot) };
  }
  return {};
}

export const registerQuery: RegisterCommand = (program, context) => {
  common(program.command('query').description('run SQL with DuckDB over the views events, visibility_changes, pages, revisions_raw, revisions and current'), { writes: false, job: false })
    .argument('[sql]', 'SQL text (not needed with --emit-views)')
    .option('--as-of <iso-time>', 'read the tables as they were at this time')
    .option('--snapshot <id>', 'read state.pages at this snapshot id, and the revisions snapshot that matches it')
    .option('--format <format>', `${FORMATS.join(', ')} (parquet needs --out)`, 'jsonl')
    .option('--out <file>', 'write the result to this file (csv, json or parquet) instead of stdout')
    .option('--emit-views', 'print CREATE VIEW statements over the current files (or those --as-of or --snapshot reads), for the DuckDB CLI')
    .action(async (sql: string | undefined, flags: QueryFlags) => {
      // It prints the views only: SQL or --out given with it would be dropped without a word.
      if (flags.emitViews === true && (sql !== undefined || flags.out !== undefined)) {
        throw new JobError('USAGE', `--emit-views prints the views and runs nothing: leave out ${sql !== undefined ? 'the SQL' : '--out'}, or --emit-views`);
      }
      if (!(FORMATS as readonly string[]).includes(flags.format)) throw new JobError('USAGE', `--format must be one of ${FORMATS.join(', ')}, found ${JSON.stringify(flags.format)}`);
      const format = flags.format as Format;
      const choice = choiceOf(flags);
      const c = await config(flags, context, { readOnly: true });
      // Loaded here, not at startup: every command pays for what it uses only.
      const [{ openDuckDb }, { stateViewStatements, viewsUsedBy }] = await Promise.all([import('../../duckdb/connection.js'), import('../../pipeline/state-views.js')]);
      const warehouse = warehouseOf(c);
      const events = { namespace: c.events.namespace, name: c.events.table, visibilityName: c.events.visibilityTable };
      if (flags.emitViews === true) {
        const { statements } = await stateViewStatements(warehouse, events, choice, { temporary: false });
        context.stdout.write(statements.map((s) => `${s};\n`).join(''));
        return;
      }
      if (sql === undefined || sql.trim() === '') throw new JobError('USAGE', 'give the SQL to run, e.g. mwlake query "SELECT count(*) FROM current"');
      if (format === 'parquet' && flags.out === undefined) throw new JobError('USAGE', '--format parquet writes a file: give --out FILE');
      if (flags.out !== undefined && (format === 'table' || format === 'jsonl')) throw new JobError('USAGE', `--out writes csv, json or parquet; --format is ${format}`);
      // DuckDB starts while the table metadata is read: most of a small query is these two.
      const [opened, planned] = await Promise.allSettled([openDuckDb(), stateViewStatements(warehouse, events, choice, { only: viewsUsedBy(sql) })]);
      if (opened.status === 'rejected') throw opened.reason;
      const db = opened.value;
      try {
        if (planned.status === 'rejected') throw planned.reason;
        for (const statement of planned.value.statements) await db.run(statement);
        await checkReadOnly(db, sql, flags.out !== undefined);
        await runUserSql(context, db, sql, format, flags.out);
      } catch (error) {
        throw asQueryError(error);
      } finally {
        await db.close();
      }
    });
};

/**
 * Refuses SQL other than one SELECT (DESCRIBE, SHOW and SUMMARIZE parse as SELECT), optionally
 * under EXPLAIN: DuckDB may write any file it can reach (COPY ... TO a table's metadata). DuckDB's
 * json_serialize_sql parses without binding (a prepare would bind, reading every file's footer
 * twice) and serializes SELECT statements only; syntax errors are left to the run, which reports them.
 */
async function checkReadOnly(db: DuckDb, sql: string, intoCopy: boolean): Promise<void> {
  // With its options too, `EXPLAIN (ANALYZE) COPY ...`: a body left starting `(ANALYZE)` does not
  // parse, passed the check, and the COPY ran. Options are words only: a quote or comment in them
  // could hide their `)` (`(ANALYZE /* ) SELECT 1 -- */) COPY ...` left a body that parsed).
  const explained = /^\s*EXPLAIN\b(\s+ANALYZE\b)?(\s*\((?!\s*(SELECT|WITH|FROM|VALUES|TABLE)\b)[\w\s,]*\))?\s*/i.exec(sql);
  const body = explained === null ? sql : sql.slice(explained[0].length);
  const [row] = await db.all<{ j: string }>(`SELECT json_serialize_sql(${sqlString(body)}) AS j`);
  const parsed = JSON.parse(row!.j) as { error?: boolean; error_type?: string; error_message?: string; statements?: unknown[] };
  // --out wraps the SQL in COPY (...): SQL that parses only there (`SELECT 1) TO 'f'; COPY (SELECT 2`) would run as more statements.
  if (intoCopy && parsed.error === true && parsed.error_type === 'parser') throw new JobError('USAGE', `the query failed: Parser Error: ${parsed.error_message}`);
  // What follows EXPLAIN must parse alone: a comment where the prefix is matched (`EXPLAIN /**/
  // ANALYZE COPY ...`) leaves a body that does not, which would pass unchecked and run the COPY.
  if (explained !== null && parsed.error === true && parsed.error_type === 'parser') {
    throw new JobError('USAGE', `mwlake query only reads: after EXPLAIN [ANALYZE] [(options)] it checks one SELECT, and what follows does not parse alone (Parser Error: ${parsed.error_message}); write the prefix without comments, and the options as words (FORMAT json)`);
  }
  if (parsed.error === true && parsed.error_type === 'not implemented') {
    const word = body.trim().split(/[\s(]+/)[0]?.toUpperCase() ?? '';
    const found = ['SELECT', 'WITH', 'FROM', 'VALUES', ''].includes(word) ? 'a statement that is not a SELECT' : `${/^[AEIOU]/.test(word) ? 'an' : 'a'} ${word} statement`;
    throw new JobError('USAGE', `mwlake query only reads: run one SELECT (or DESCRIBE, SHOW, EXPLAIN); found ${found}. Use --out FILE to write a result`);
  }
  if (parsed.error !== true && (parsed.statements?.length ?? 1) !== 1) throw new JobError('USAGE', `give one statement to run, found ${parsed.statements?.length}`);
}

/**
 * DuckDB rejecting the user's SQL (parser, binder, catalog, conversion errors) is a usage error
 * (exit 64), not a bug of ours (70); DuckDB's own internal errors and a machine that ran short
 * keep their codes.
 */
function asQueryError(error: unknown): unknown {
  if (!(error instanceof JobError) || error.code !== 'INTERNAL' || !(error.cause instanceof Error)) return error;
  const message = error.cause.message;
  if (/^INTERNAL Error/.test(message)) return error;
  // Reading failed, not the SQL: a file a table references is gone (maintenance of a copied
  // warehouse, a hand-made rm), or the disk failed. Neither is the caller's SQL to fix. (A glob
  // that matches nothing is NOT_FOUND already: duckdb/connection.ts.)
  if (/^IO Error/.test(message)) {
    const missing = /No such file or directory/.test(message);
    return new JobError(missing ? 'NOT_FOUND' : 'STORAGE', `the query could not read its files: ${message}`, { cause: error.cause });
  }
  return new JobError('USAGE', `the query failed: ${message}`, { cause: error.cause });
}

/** Runs the user's SQL: into `out` (csv, json or parquet) when given, else rows to stdout in `format`. */
async function runUserSql(context: CliContext, db: DuckDb, sql: string, format: string, out: string | undefined): Promise<void> {
  if (out !== undefined) {
    const options = format === 'csv' ? 'FORMAT csv, HEADER true' : format === 'json' ? 'FORMAT json, ARRAY true' : 'FORMAT parquet, COMPRESSION zstd';
    try {
      // COPY takes a query, not a statement: a trailing `;` that stdout output accepts goes; the
      // newline ends a trailing `--` comment, which would hide the `)` and the rest.
      await db.run(`COPY (${sql.replace(/[\s;]+$/, '')}\n) TO ${sqlString(out)} (${options})`);
    } catch (error) {
      // The SQL bound and ran; the file could not be written: a storage error (69), not a usage one.
      // Only an error naming --out: failures DuckDB's messages sort already keep their codes (a
      // full disk 71, a table file that may not be read 77, a damaged one 65), and another read
      // error is the input's (asQueryError).
      const message = error instanceof JobError && error.code === 'INTERNAL' && error.cause instanceof Error ? error.cause.message : '';
      if (/^IO Error/.test(message) && message.includes(out)) throw new JobError('STORAGE', `cannot write --out ${out}: ${message}`, { cause: error });
      throw error;
    }
    context.stdout.write(stringifyJsonBigInt({ step: 'query', out, format }) + '\n');
    return;
  }
  // The reader went away (`| head`): stop the query rather than stream the rest into nothing.
  // Node's stdout stays `writable` after EPIPE, so the error itself is the signal.
  let readerGone = false;
  const onError = (error: NodeJS.ErrnoException): void => {
    if (error.code === 'EPIPE') readerGone = true;
  };
  context.stdout.on('error', onError);
  try {
    const { columns, batches } = await db.streamForDisplay(sql);
    await writeRows(context, columns, batches, format, () => readerGone);
  } finally {
    context.stdout.off('error', onError);
  }
}

/**
 * A value as `--format table` shows it: console.table prints a bigint as 123n, and a list or struct
 * past its first few items or keys as `[Object]` or `... more items`, so those print as their JSON.
 */
function tableCell(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v !== null && typeof v === 'object') return stringifyJsonBigInt(v);
  return v;
}

/** Rows `--format table` prints: a table is for reading, the other formats are for the rest. */
const TABLE_ROWS = 1000;

/** A row as a JSON object with its keys in the result's column order. */
function rowJson(columns: readonly string[], row: Record<string, unknown>): string {
  return `{${columns.map((c) => `${JSON.stringify(c)}:${stringifyJsonBigInt(row[c] ?? null)}`).join(',')}}`;
}

/** Writes result batches to stdout in `format`, until they end or the reader goes away. */
async function writeRows(context: CliContext, columns: readonly string[], batches: AsyncIterable<Record<string, unknown>[]>, format: string, readerGone: () => boolean): Promise<void> {
  let first = true;
  const table: Record<string, unknown>[] = [];
  let more = 0;
  if (format === 'json') context.stdout.write('[');
  if (format === 'csv') context.stdout.write(columns.map(csvCell).join(',') + '\n');
  for await (const rows of batches) {
    if (readerGone()) return;
    if (format === 'table') {
      for (const r of rows) {
        if (table.length < TABLE_ROWS) table.push(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, tableCell(v)])));
        else more++;
      }
      continue;
    }
    for (const row of rows) {
      // By name, in the result's order: an object lists integer-like keys (a column named 1 or 2024) first.
      if (format === 'jsonl') context.stdout.write(rowJson(columns, row) + '\n');
      else if (format === 'json') context.stdout.write((first ? '\n' : ',\n') + rowJson(columns, row));
      else context.stdout.write(columns.map((c) => csvCell(row[c])).join(',') + '\n');
      first = false;
    }
  }
  if (format === 'json') context.stdout.write(first ? ']\n' : '\n]\n');
  if (format === 'table') {
    // One table for the whole result, its header even when it has no rows.
    const { Console } = await import('node:console');
    // console.table shows no columns without rows.
    if (table.length === 0) context.stdout.write(`${columns.join(' | ')}\n(0 rows)\n`);
    else new Console({ stdout: context.stdout }).table(table, [...columns]);
    if (more > 0) context.stderr.write(`mwlake: showing the first ${TABLE_ROWS} rows of ${TABLE_ROWS + more}; --format csv or jsonl prints them all\n`);
  }
}
