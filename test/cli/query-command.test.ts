// `mwlake query` on a merged warehouse (no broker needed): every output format, --out files, the
// snapshot choices, --emit-views for the DuckDB CLI, and the README's example queries.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { runCli } from '../../src/cli/main.js';
import { ExitCode } from '../../src/core/exit-codes.js';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { rollbackTo } from '../../src/iceberg/commit/rollback.js';
import { expireSnapshots } from '../../src/iceberg/maintenance/expire-snapshots.js';
import { silentLogger } from '../../src/core/log.js';
import { loadConfig } from '../../src/pipeline/config.js';
import { runMaintenance } from '../../src/pipeline/maintenance.js';
import { appendBatch, generatedEvents, merge, warehouseAt } from '../merge/merge-fixture.js';
import { repoRoot } from '../helpers/python.js';
import { runCliCaptured, type CliResult } from '../helpers/cli.js';

let dir: string;
let wh: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-query-'));
  wh = join(dir, 'warehouse');
  const warehouse = warehouseAt(wh);
  await appendBatch(warehouse, generatedEvents(5, 300));
  await merge(warehouse);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function queryIn(warehouse: string, ...args: string[]): Promise<CliResult> {
  return runCliCaptured(['query', '--warehouse', warehouse, ...args]);
}

const query = (...args: string[]) => queryIn(wh, ...args);

/** The example queries of README.md, verbatim. */
const README_QUERIES = {
  editsPerWikiPerDay: `SELECT wiki_id, CAST(revision_dt AS DATE) AS day, count(*) AS edits
FROM revisions GROUP BY ALL ORDER BY wiki_id, day`,
  largestPages: `SELECT wiki_id, page_title, revision_size AS bytes
FROM current ORDER BY revision_size DESC LIMIT 10`,
  onePageHistory: `SELECT revision_id, revision_dt, user_text, revision_comment, revision_size
FROM revisions WHERE wiki_id = 'enwiki' AND page_id = (SELECT min(page_id) FROM current WHERE wiki_id = 'enwiki')
ORDER BY revision_dt, revision_id`,
};

test('jsonl, json and csv agree', async () => {
  const sql = 'SELECT wiki_id, count(*) AS n FROM current GROUP BY ALL ORDER BY wiki_id';
  const jsonl = (await query(sql)).out.trim().split('\n').map((l) => JSON.parse(l) as { wiki_id: string; n: number });
  assert.deepEqual(jsonl.map((r) => r.wiki_id), ['dewiki', 'enwiki']);
  assert.ok(jsonl.every((r) => Number(r.n) > 0));
  assert.deepEqual(JSON.parse((await query(sql, '--format', 'json')).out), jsonl);
  assert.equal((await query(sql, '--format', 'csv')).out, `wiki_id,n\n${jsonl.map((r) => `${r.wiki_id},${r.n}`).join('\n')}\n`);
  assert.equal((await query('SELECT 1 AS a WHERE false', '--format', 'json')).out, '[]\n');
  assert.equal((await query(`SELECT 'a,"b"' AS x`, '--format', 'csv')).out, 'x\n"a,""b"""\n');
});

test('csv cells, jsonl and json keys stay in the result order when column names are integers (a PIVOT by year)', async () => {
  assert.equal((await query(`SELECT 'a', 1, 2 AS "2024"`, '--format', 'csv')).out, "'a',1,2024\na,1,2\n");
  assert.equal((await query(`SELECT 'a' AS wiki, 1 AS "2023", 2 AS "2024"`)).out, '{"wiki":"a","2023":1,"2024":2}\n');
  assert.equal((await query(`SELECT 'a' AS wiki, 1 AS "2023"`, '--format', 'json')).out, '[\n{"wiki":"a","2023":1}\n]\n');
});

test('csv on stdout tells an empty string from NULL, as --out csv does', async () => {
  const sql = `SELECT '' AS e, NULL::VARCHAR AS n, 'x' AS x`;
  const file = join(dir, 'empty.csv');
  assert.equal((await query(sql, '--format', 'csv', '--out', file)).code, 0);
  assert.equal((await query(sql, '--format', 'csv')).out, readFileSync(file, 'utf8'));
  assert.equal(readFileSync(file, 'utf8'), 'e,n,x\n"",,x\n');
});

test('values print as DuckDB prints them where JS would lose them; empty results keep their header; one table', async () => {
  const sql = `SELECT TIMESTAMPTZ '2026-11-02 01:02:03.123456+00' AS tz, DATE '2026-11-02' AS d, TIME '12:34:56.5' AS t, '\\x00abc'::BLOB AS b,
    'inf'::DOUBLE AS inf, 9007199254740993::BIGINT AS big, 3::BIGINT AS small, {'a': DATE '2026-01-01'} AS s, NULL AS n, INTERVAL 90 MINUTE AS i`;
  assert.equal((await query(sql, '--format', 'csv')).out, 'tz,d,t,b,inf,big,small,s,n,i\n2026-11-02 01:02:03.123456+00,2026-11-02,12:34:56.5,\\x00abc,Infinity,9007199254740993,3,"{""a"":""2026-01-01""}",,01:30:00\n');
  assert.equal((await query(sql)).out, '{"tz":"2026-11-02 01:02:03.123456+00","d":"2026-11-02","t":"12:34:56.5","b":"\\\\x00abc","inf":"Infinity","big":9007199254740993,"small":3,"s":{"a":"2026-01-01"},"n":null,"i":"01:30:00"}\n');
  assert.equal((await query('SELECT 1 AS a, 2 AS b WHERE false', '--format', 'csv')).out, 'a,b\n');
  assert.equal((await query('SELECT 1 AS a, 2 AS b WHERE false', '--format', 'table')).out, 'a | b\n(0 rows)\n');
  const table = await query('SELECT range AS i FROM range(5000)', '--format', 'table');
  assert.equal(table.out.split('\n').filter((l) => l.startsWith('┌')).length, 1, 'one table, not one per batch');
  assert.match(table.err, /first 1000 rows of 5000/);
  // Lists and structs whole, as JSON: no 123n, no [Object], no "... more items".
  const nested = await query("SELECT [9007199254740993, 3, 4, 5, 6]::BIGINT[] AS l, {'k': 9007199254740993::HUGEINT, 'j': 4::BIGINT, 'm': {'a': 1, 'b': 2, 'c': [1, 2, 3, 4]}} AS s", '--format', 'table');
  assert.doesNotMatch(nested.out, /\dn\b|\[Object\]|more item/, nested.out);
  assert.match(nested.out, /\[9007199254740993,3,4,5,6\]/);
  assert.match(nested.out, /\{"k":9007199254740993,"j":4,"m":\{"a":1,"b":2,"c":\[1,2,3,4\]\}\}/);
  const file = join(dir, 'semicolon.csv');
  assert.equal((await query('SELECT 1 AS a; ', '--format', 'csv', '--out', file)).code, 0, 'a trailing ; is fine with --out too');
  assert.equal(readFileSync(file, 'utf8'), 'a\n1\n');
});

test('--out runs SQL that ends in a -- comment, as stdout output does', async () => {
  const file = join(dir, 'comment.csv');
  const r = await query('SELECT 1 AS a -- the answer', '--format', 'csv', '--out', file);
  assert.equal(r.code, 0, r.err);
  assert.equal(readFileSync(file, 'utf8'), 'a\n1\n');
});

test('--out writes csv, json and parquet files', async () => {
  const sql = 'SELECT wiki_id, page_id, revision_id FROM current ORDER BY ALL';
  const expected = (await query(sql)).out.trim().split('\n').length;
  for (const format of ['csv', 'json', 'parquet']) {
    const file = join(dir, `out.${format}`);
    const r = await query(sql, '--format', format, '--out', file);
    assert.equal(r.code, 0, r.err);
    const db = await openDuckDb();
    try {
      const reader = format === 'csv' ? 'read_csv' : format === 'json' ? 'read_json' : 'read_parquet';
      const [row] = await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM ${reader}('${file}')`);
      assert.equal(Number(row!.n), expected, format);
    } finally {
      await db.close();
    }
  }
  const bad = await query(sql, '--format', 'parquet');
  assert.equal(bad.code, ExitCode.Usage);
  assert.match(bad.err, /--out/);
  // A file that cannot be written is a storage error (69) naming it, not a usage error.
  const unwritable = join(dir, 'no-such-dir', 'out.csv');
  const io = await query(sql, '--format', 'csv', '--out', unwritable);
  assert.equal(io.code, ExitCode.Unavailable, io.err);
  assert.ok(io.err.includes(unwritable), io.err);
});

test('--as-of reads a time without offset as UTC whatever the zone, and refuses what is not an ISO time', async (t) => {
  const zone = process.env['TZ'];
  t.after(() => (zone === undefined ? delete process.env['TZ'] : (process.env['TZ'] = zone)));
  // 14 hours ahead of UTC: read as local time, a minute from now would be before the merge.
  process.env['TZ'] = 'Pacific/Kiritimati';
  const soon = new Date(Date.now() + 60_000).toISOString().slice(0, 19);
  const at = await query('SELECT count(*) AS n FROM pages', '--as-of', soon);
  assert.equal(at.code, 0, at.err);
  assert.ok(Number((JSON.parse(at.out) as { n: number }).n) > 0, `pages as of ${soon} UTC`);
  assert.equal((await query('SELECT count(*) AS n FROM pages', '--as-of', `${soon}+0000`)).out, at.out, 'an offset without a colon');
  for (const bad of ['1', 'Nov 2 2026', '2026-02-30', '2026-11-02T25:00:00Z']) {
    const r = await query('SELECT 1', '--as-of', bad);
    assert.equal(r.code, ExitCode.Usage, bad);
    assert.ok(r.err.includes(JSON.stringify(bad)), r.err);
  }
});

test('--as-of before the first merge sees empty tables; --snapshot binds a pages snapshot', async () => {
  const none = await query('SELECT count(*) AS n FROM revisions', '--as-of', '2000-01-01T00:00:00Z');
  assert.equal(none.code, 0, none.err);
  assert.equal(Number((JSON.parse(none.out) as { n: number }).n), 0);
  const snaps = JSON.parse((await runCliJson('table', 'snapshots', 'state.pages'))) as { snapshotId: string }[];
  const at = await query('SELECT count(*) AS n FROM pages', '--snapshot', snaps[0]!.snapshotId);
  assert.ok(Number((JSON.parse(at.out) as { n: number }).n) > 0);
  assert.equal((await query('SELECT 1', '--snapshot', 'abc')).code, ExitCode.Usage);
  assert.equal((await query('SELECT 1', '--snapshot', '1', '--as-of', '2026-01-01')).code, ExitCode.Usage);
});

/** A warehouse of its own with `seed`'s 300 events merged in two halves; `between` runs after the first merge. */
async function mergedInHalves(name: string, seed: number, between: (at: typeof query) => Promise<void> = async () => {}) {
  const own = join(dir, name);
  const warehouse = warehouseAt(own);
  const events = generatedEvents(seed, 300);
  const at = (...args: string[]) => queryIn(own, ...args);
  await appendBatch(warehouse, events.slice(0, 150));
  await merge(warehouse);
  await between(at);
  await appendBatch(warehouse, events.slice(150));
  await merge(warehouse);
  return { own, warehouse, at };
}

test('correlated subqueries over the views run once the state tables hold position deletes, as the join they mean', async () => {
  const { own, at } = await mergedInHalves('correlated', 11);
  const deletes = (await readdir(join(own, 'state'), { recursive: true })).filter((f) => f.endsWith('-deletes.parquet'));
  assert.ok(deletes.length > 0, 'the second merge replaced rows');
  // DuckDB 1.5 failed these (70, INTERNAL Error: Failed to bind column reference) over a delete filter written as NOT EXISTS.
  const count = async (sql: string) => {
    const r = await at(sql);
    assert.equal(r.code, 0, r.err);
    return Number((JSON.parse(r.out) as { n: number }).n);
  };
  const live = await count('SELECT count(*) AS n FROM pages p WHERE EXISTS (SELECT 1 FROM current c WHERE c.wiki_id = p.wiki_id AND c.page_id = p.page_id)');
  assert.ok(live > 0);
  assert.equal(live, await count('SELECT count(*) AS n FROM (SELECT DISTINCT p.wiki_id, p.page_id FROM pages p JOIN current c USING (wiki_id, page_id))'));
  const without = await count('SELECT count(*) AS n FROM pages p WHERE NOT EXISTS (SELECT 1 FROM revisions c WHERE c.wiki_id = p.wiki_id AND c.page_id = p.page_id)');
  assert.equal(without, await count('SELECT count(*) AS n FROM pages') - live);
});

test('revisions rolled back alone, or a time whose snapshots were expired, fail the read (65) instead of binding empty views', async () => {
  let firstMerged = 0;
  const { warehouse, at } = await mergedInHalves('repaired', 6, async () => {
    firstMerged = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
  });
  const before = JSON.parse((await at('SELECT count(*) AS n FROM revisions')).out) as { n: number };
  assert.ok(Number(before.n) > 0);

  const revisions = await warehouse.loadTable('state', 'revisions');
  await rollbackTo(revisions);
  const broken = await at('SELECT count(*) AS n FROM revisions');
  assert.equal(broken.code, ExitCode.Data, broken.err);
  assert.match(broken.err, /state\.revisions has no snapshot merged up to events snapshot \d+.*rolled back alone.*mwlake merge/);
  assert.equal((await at('SELECT count(*) AS n FROM pages')).code, 0, 'a read without revisions still works');
  await merge(warehouse);
  assert.deepEqual(JSON.parse((await at('SELECT count(*) AS n FROM revisions')).out), before, 'the merge repairs it');

  for (const [namespace, name] of [['state', 'pages'], ['state', 'revisions'], ['events', 'page_content_change']] as const) {
    await expireSnapshots(await warehouse.loadTable(namespace, name), { olderThanMs: Date.now() + 1, retainLast: 1 });
  }
  const expired = await at('SELECT count(*) AS n FROM pages', '--as-of', new Date(firstMerged).toISOString());
  assert.equal(expired.code, ExitCode.Data, expired.err);
  assert.match(expired.err, /keeps no snapshot as of .* were expired/);
  assert.equal((await at('SELECT count(*) AS n FROM pages', '--as-of', new Date(Date.now() + 60_000).toISOString())).code, 0);
});

test('--as-of binds the revisions current at that time, even after both state tables were rolled back since', async () => {
  const { warehouse, at } = await mergedInHalves('rolled-back', 7);
  const sql = 'SELECT count(*) AS n FROM revisions';
  const full = (await at(sql)).out;
  await new Promise((resolve) => setTimeout(resolve, 5));
  const bothMerged = new Date().toISOString();
  await new Promise((resolve) => setTimeout(resolve, 5));
  for (const name of ['revisions', 'pages']) await rollbackTo(await warehouse.loadTable('state', name));
  const now = (await at(sql)).out;
  assert.ok(Number((JSON.parse(now) as { n: number }).n) < Number((JSON.parse(full) as { n: number }).n), 'the rollback took the second merge away');
  const then = await at(sql, '--as-of', bothMerged);
  assert.equal(then.code, 0, then.err);
  assert.equal(then.out, full, 'as of before the rollback: both merges');
});

test('expiry keeps the revisions snapshot the pages snapshot pairs with after a merge that committed revisions alone', async () => {
  const sql = 'SELECT count(*) AS n FROM revisions';
  let first = '';
  const { own, warehouse, at } = await mergedInHalves('half-merged', 8, async (read) => {
    first = (await read(sql)).out;
  });
  // What a merge interrupted between its two commits leaves: pages one merge behind revisions.
  await rollbackTo(await warehouse.loadTable('state', 'pages'));
  assert.equal((await at(sql)).out, first);
  const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'q', MWLAKE_WAREHOUSE: own });
  const maintenance = { ...config.maintenance, compact: false, removeOrphans: false, retainLastSnapshots: 1 };
  const r = await runMaintenance({ config: { ...config, maintenance }, warehouse, logger: silentLogger(), nowMs: Date.now() + 30 * 86_400_000 });
  assert.ok((r.tables.find((t) => t.table === 'state.pages')?.expiry?.snapshotsExpired ?? 0) > 0, 'expiry ran');
  const after = await at(sql);
  assert.equal(after.code, 0, after.err);
  assert.equal(after.out, first);
});

/** A warehouse `name` under the test folder with one merged batch, and the path of a `state.revisions` data file in it. */
async function revisionsFileOf(name: string, seed: number): Promise<{ root: string; file: string; path: string }> {
  const root = join(dir, name);
  const warehouse = warehouseAt(root);
  await appendBatch(warehouse, generatedEvents(seed, 50));
  await merge(warehouse);
  const data = join(root, 'state', 'revisions', 'data');
  const file = (await readdir(data, { recursive: true })).find((f) => f.endsWith('.parquet'))!;
  return { root, file, path: join(data, file) };
}

test('a data file a table references that is gone fails the read as data (65), not as the SQL (64)', async () => {
  const { root: broken, file, path } = await revisionsFileOf('broken', 6);
  await rm(path);
  const r = await queryIn(broken, 'SELECT count(*) FROM revisions_raw');
  assert.equal(r.code, ExitCode.Data, r.err);
  assert.match(r.err, /could not read its files: IO Error/);
  assert.ok(r.err.includes(file.split('/').at(-1)!), r.err);
  const out = await queryIn(broken, '--format', 'csv', '--out', join(dir, 'broken.csv'), 'SELECT count(*) FROM revisions_raw');
  assert.equal(out.code, ExitCode.Data, out.err);
  assert.match(out.err, /could not read its files/);
});

test('a damaged data file (cut short) fails the read as data (65) naming it, with or without --out', async () => {
  const { root: damaged, file, path } = await revisionsFileOf('damaged', 7);
  await truncate(path, (await stat(path)).size - 100);
  for (const out of [[], ['--format', 'csv', '--out', join(dir, 'damaged.csv')]]) {
    const r = await queryIn(damaged, ...out, 'SELECT count(*) FROM revisions_raw');
    assert.equal(r.code, ExitCode.Data, r.err);
    assert.match(r.err, /DuckDB found a damaged file: Invalid Input Error: No magic bytes found at end of file/);
    assert.ok(r.err.includes(file.split('/').at(-1)!), r.err);
    assert.doesNotMatch(r.err, /cannot write --out/);
  }
});

test('--emit-views prints views the DuckDB CLI can run', async () => {
  const r = await query('--emit-views');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^CREATE OR REPLACE VIEW events AS /m);
  const db = await openDuckDb();
  try {
    for (const statement of r.out.split(';\n').filter((s) => s.trim() !== '')) await db.run(statement);
    const [viaViews] = await db.all<{ n: bigint }>('SELECT count(*) AS n FROM current');
    const viaQuery = JSON.parse((await query('SELECT count(*) AS n FROM current')).out) as { n: number };
    assert.equal(Number(viaViews!.n), Number(viaQuery.n));
  } finally {
    await db.close();
  }
  // SQL or --out beside it would be dropped: refused instead, printing nothing.
  for (const [args, what] of [[['SELECT 1'], 'the SQL'], [['--format', 'csv', '--out', join(dir, 'views.csv')], '--out']] as const) {
    const refused = await query('--emit-views', ...args);
    assert.equal(refused.code, ExitCode.Usage, refused.err);
    assert.match(refused.err, new RegExp(`--emit-views prints the views and runs nothing: leave out ${what}`));
    assert.equal(refused.out, '');
  }
});

test("a query's own joins are planned as DuckDB plans them: the dump's planner setting is not set", async () => {
  const r = await query("SELECT current_setting('disabled_optimizers') AS disabled, count(*) AS n FROM revisions");
  assert.equal(r.code, 0, r.err);
  const row = JSON.parse(r.out) as { disabled: string; n: number };
  assert.ok(Number(row.n) > 0);
  assert.equal(row.disabled, '');
  assert.doesNotMatch((await query('--emit-views')).out, /disabled_optimizers/);
});

test("the README's example queries run and return rows", async () => {
  const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
  for (const [name, sql] of Object.entries(README_QUERIES)) {
    assert.ok(readme.includes(sql), `README.md shows the ${name} query verbatim`);
    const r = await query(sql);
    assert.equal(r.code, 0, `${name}: ${r.err}`);
    assert.ok(r.out.trim().split('\n').length > 0 && r.out.trim() !== '', `${name} returned rows`);
  }
});

async function runCliJson(...args: string[]): Promise<string> {
  let out = '';
  const code = await runCli(['--log-level', 'silent', ...args, '--warehouse', wh, '--json'], { stdout: new Writable({ write: (c, _e, cb) => ((out += String(c)), cb()) }), stderr: new Writable({ write: (_c, _e, cb) => cb() }), env: {} });
  assert.equal(code, 0);
  return out;
}

/** `mwlake query` with only the arguments given: no job name, no job file. */
function bareQuery(...args: string[]): Promise<CliResult> {
  return runCliCaptured(['query', ...args]);
}

test('a query needs no job name, and a mistyped --warehouse fails naming it instead of creating a warehouse', async () => {
  const counted = await bareQuery('--warehouse', wh, 'SELECT count(*) AS n FROM current');
  assert.equal(counted.code, ExitCode.Ok, counted.err);
  assert.ok(Number((JSON.parse(counted.out) as { n: number }).n) > 0);

  const typo = join(dir, 'warehose');
  const missing = await bareQuery('--warehouse', typo, 'SELECT count(*) AS n FROM current');
  assert.equal(missing.code, ExitCode.Data);
  assert.match(missing.err, new RegExp(`no warehouse at ${typo}: give --warehouse DIR`));
  await assert.rejects(readFile(typo), { code: 'ENOENT' });
});

test('before the first drain and merge the views are empty, and the query creates no table', async () => {
  const empty = join(dir, 'empty-warehouse');
  await mkdir(empty);
  const result = await bareQuery('--warehouse', empty, 'SELECT (SELECT count(*) FROM current) AS current, (SELECT count(*) FROM revisions) AS revisions, (SELECT count(*) FROM events) AS events');
  assert.equal(result.code, ExitCode.Ok, result.err);
  assert.deepEqual(JSON.parse(result.out), { current: 0, revisions: 0, events: 0 });
  assert.deepEqual(await readdir(empty), []);
  const bySnapshot = await bareQuery('--warehouse', empty, '--snapshot', '123', 'SELECT 1');
  assert.equal(bySnapshot.code, ExitCode.Usage);
  assert.match(bySnapshot.err, /snapshot 123 is not a snapshot of state.pages: the table does not exist yet/);
});

test('query only reads: COPY, ATTACH and friends are refused (64) and write nothing; DESCRIBE and EXPLAIN run', async () => {
  const hint = join(wh, 'state', 'pages', 'metadata', 'version-hint.text');
  const before = readFileSync(hint, 'utf8');
  for (const [sql, kind] of [
    [`COPY (SELECT 999 AS v) TO '${hint}' (FORMAT csv, HEADER false)`, 'a COPY statement'],
    [`ATTACH '${join(dir, 'x.db')}'`, 'an? ATTACH statement'],
    ['CREATE TABLE t AS SELECT 1', 'a CREATE statement'],
    ['SELECT 1; COPY (SELECT 1) TO \'/dev/null\'', 'a statement that is not a SELECT'],
    [`EXPLAIN COPY (SELECT 1) TO '${join(dir, 'y.csv')}'`, 'a COPY statement'],
    [`EXPLAIN (ANALYZE) COPY (SELECT 1) TO '${join(dir, 'y.csv')}'`, 'a COPY statement'],
    [`EXPLAIN (FORMAT json, ANALYZE) COPY (SELECT 1) TO '${join(dir, 'y.csv')}'`, 'a COPY statement'],
  ] as const) {
    const r = await query(sql);
    assert.equal(r.code, ExitCode.Usage, `${sql}: ${r.err}`);
    assert.match(r.err, new RegExp(`only reads: run one SELECT .*; found ${kind}`));
  }
  const two = await query('SELECT 1; SELECT 2');
  assert.equal(two.code, ExitCode.Usage);
  assert.match(two.err, /give one statement to run, found 2/);
  assert.equal(readFileSync(hint, 'utf8'), before, 'the table metadata is untouched');
  assert.equal(existsSync(join(dir, 'x.db')), false);
  assert.equal(existsSync(join(dir, 'y.csv')), false);
  // A comment inside the EXPLAIN prefix leaves a body that does not parse alone: refused, not run.
  for (const sql of [`EXPLAIN /**/ ANALYZE COPY (SELECT 42 AS x) TO '${join(dir, 'z.csv')}'`, `EXPLAIN\n-- c\nANALYZE COPY (SELECT 42 AS x) TO '${join(dir, 'z.csv')}'`, `EXPLAIN (ANALYZE /* ) */) COPY (SELECT 42 AS x) TO '${join(dir, 'z.csv')}'`,
    // A `)` in a comment or a string ends the options early, leaving a body that parses as a SELECT.
    `EXPLAIN (ANALYZE /* ) SELECT 1 -- */) COPY (SELECT 42 AS x) TO '${join(dir, 'z.csv')}'`,
    `EXPLAIN (ANALYZE 'x) SELECT 1 -- ') COPY (SELECT 42 AS x) TO '${join(dir, 'z.csv')}'`]) {
    const r = await query(sql);
    assert.equal(r.code, ExitCode.Usage, `${sql}: ${r.err}`);
    assert.match(r.err, /only reads: after EXPLAIN \[ANALYZE\] \[\(options\)\] it checks one SELECT, and what follows does not parse alone/);
  }
  assert.equal(existsSync(join(dir, 'z.csv')), false);
  // --out puts the SQL inside COPY (...): closing it there must not make a second statement.
  const out = await query(`SELECT 1 AS a) TO '${join(dir, 'w.csv')}' (FORMAT csv); COPY (SELECT 2`, '--format', 'csv', '--out', join(dir, 'out.csv'));
  assert.equal(out.code, ExitCode.Usage, out.err);
  assert.match(out.err, /the query failed: Parser Error/);
  assert.equal(existsSync(join(dir, 'w.csv')), false);
  for (const sql of ['DESCRIBE revisions', 'SHOW TABLES', 'EXPLAIN SELECT count(*) FROM current', 'EXPLAIN ANALYZE SELECT 1', 'EXPLAIN (FORMAT json) SELECT 1', 'EXPLAIN (SELECT 1)']) assert.equal((await query(sql)).code, 0, sql);
});

test('SQL that DuckDB rejects is a usage error (64) quoting DuckDB, to stdout nothing', async () => {
  for (const [sql, kind] of [
    ['SELEC nonsense', /Parser Error: syntax error at or near "SELEC"/],
    ['SELECT * FROM no_such_view', /Catalog Error: Table with name no_such_view does not exist/],
    ["SELECT 'x'::INT", /Conversion Error/],
  ] as const) {
    const r = await query(sql);
    assert.equal(r.code, ExitCode.Usage, `${sql}: ${r.err}`);
    assert.match(r.err, /^mwlake: the query failed: /);
    assert.match(r.err, kind);
    assert.equal(r.out, '');
  }
});

test('dump, merge, maintain and status refuse a warehouse that does not exist, and do not create it', async () => {
  const typo = join(dir, 'warehuose');
  for (const args of [['dump', '--wiki', 'enwiki', '--date', '2026-11-30', '--dumps-root', join(dir, 'dumps')], ['merge'], ['maintain'], ['status']]) {
    let err = '';
    const sink = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
    const code = await runCli(['--log-level', 'silent', args[0]!, '--warehouse', typo, '--job-name', 'q', ...args.slice(1)], { stdout: sink(() => {}), stderr: sink((s) => (err += s)), env: {} });
    assert.equal(code, ExitCode.Data, `${args[0]}: ${err}`);
    assert.match(err, new RegExp(`no warehouse at ${typo}: give --warehouse DIR`));
    await assert.rejects(readdir(typo), { code: 'ENOENT' });
  }
  await assert.rejects(readdir(join(dir, 'dumps')), { code: 'ENOENT' });
});

test('--dry-run writes nothing: no warehouse, no table, no lease', async () => {
  const cliIn = async (...args: string[]) => {
    let err = '';
    const sink = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
    const code = await runCli(['--log-level', 'silent', ...args], { stdout: sink(() => {}), stderr: sink((s) => (err += s)), env: {} });
    return { code, err };
  };
  // drain and nightly create a missing warehouse, except in a dry run (no broker here: they stop at Kafka).
  const typo = join(dir, 'warehuose-dry');
  for (const step of ['drain', 'nightly']) {
    const r = await cliIn(step, '--dry-run', '--warehouse', typo, '--job-name', 'q', '--brokers', '127.0.0.1:1');
    assert.equal(r.code, ExitCode.Unavailable, `${step}: ${r.err}`);
    await assert.rejects(readdir(typo), { code: 'ENOENT' }, step);
  }
  // A merge dry run over events with no state tables yet reports what it would write and creates neither table.
  const fresh = join(dir, 'wh-dry');
  await appendBatch(warehouseAt(fresh), generatedEvents(6, 100));
  const m = await cliIn('merge', '--dry-run', '--warehouse', fresh, '--job-name', 'q');
  assert.equal(m.code, 0, m.err);
  assert.deepEqual((await readdir(fresh)).sort(), ['events'], 'no state tables, no _leases');
  // The read-only commands have nothing to leave undone: the flag is refused, not silently ignored.
  for (const step of ['status', 'query']) {
    const r = await cliIn(step, '--dry-run', '--warehouse', fresh, 'SELECT 1');
    assert.equal(r.code, ExitCode.Usage, `${step}: ${r.err}`);
    assert.match(r.err, /unknown option '--dry-run'/, step);
  }
});

test('a dumps root that cannot be created fails as a refused path (77, not retried) naming it, not as a bug', async () => {
  const file = join(dir, 'a-file');
  await writeFile(file, 'x');
  let err = '';
  const sink = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  const code = await runCli(['--log-level', 'silent', 'dump', '--warehouse', wh, '--job-name', 'q', '--wiki', 'enwiki', '--date', '2026-11-30', '--dumps-root', join(file, 'dumps')], {
    stdout: sink(() => {}),
    stderr: sink((s) => (err += s)),
    env: {},
  });
  assert.equal(code, ExitCode.Refused, err);
  assert.match(err, new RegExp(`mkdir failed for ${join(file, 'dumps')}.*ENOTDIR`));
});

test('SIGTERM stops a query writing --out within seconds (143), leaving no file, instead of waiting for the COPY to end', { timeout: 120_000 }, async (t) => {
  const out = join(dir, 'interrupted.parquet');
  // Hours of hashing: the process cannot exit while DuckDB's thread runs the COPY, unless interrupted.
  const sql = 'SELECT sha256(range::VARCHAR) AS h FROM range(10000000000)';
  const child = spawn(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), '--log-level', 'error', 'query', '--warehouse', wh, '--format', 'parquet', '--out', out, sql], {
    stdio: ['ignore', 'pipe', 'pipe'],
    signal: t.signal,
    killSignal: 'SIGKILL',
  });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  child.on('error', () => {});
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  while (!existsSync(out) && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(child.exitCode, null, `the query ended before the signal: ${err}`);
  const signalled = Date.now();
  child.kill('SIGTERM');
  const [code, signal] = await exited;
  assert.deepEqual({ code, signal }, { code: ExitCode.Terminated, signal: null }, err);
  assert.ok(Date.now() - signalled < 20_000, `exited ${Date.now() - signalled} ms after the signal`);
  assert.equal(existsSync(out), false, 'no half-written --out file');
});

test('a reader that stops early (| head) ends the query quietly with exit 0', { timeout: 120_000 }, async (t) => {
  // Billions of rows: streamed to the end, this would outlast the test's timeout.
  const sql = 'SELECT range AS n FROM range(5000000000)';
  const child = spawn(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), '--log-level', 'error', 'query', '--warehouse', wh, sql], {
    stdio: ['ignore', 'pipe', 'pipe'],
    signal: t.signal, // a failed (timed out) run must not leave the query spinning
    killSignal: 'SIGKILL',
  });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  child.on('error', () => {}); // the abort on timeout; the timeout is the failure reported
  const [first] = (await once(child.stdout, 'data')) as [Buffer];
  assert.match(first.toString('utf8'), /^\{"n":0\}\n/);
  child.stdout.destroy(); // what `head` does once it has its lines
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, err);
  assert.doesNotMatch(err, /EPIPE|^\s+at /m, 'no stack trace');
});
