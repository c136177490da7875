// End to end against the real broker, through the CLI: generated events in Kafka → drain (bad
// events to <job>.error) → merge → dumps, compared with an independent in-memory fold of the same
// events (test/merge/reference-model.ts); reruns change nothing; a crash before the commit replays.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { runCli } from '../../src/cli/main.js';
import { ExitCode } from '../../src/core/exit-codes.js';
import { silentLogger } from '../../src/core/log.js';
import { loadConfig } from '../../src/pipeline/config.js';
import { DEFAULT_NAMESPACE_MAP, runDumps } from '../../src/pipeline/dump.js';
import { acquireLease } from '../../src/pipeline/lease.js';
import { runNightly } from '../../src/pipeline/nightly.js';
import { runStatus } from '../../src/pipeline/status.js';
import { warehouseOf } from '../../src/pipeline/warehouse.js';
import { validatePageChange } from '../../src/events/validate.js';
import { assertValidExport, decompressFile, readWithMwxml } from '../dumps/helpers.js';
import { KAFKA_BROKERS, requireBroker, withAdmin } from '../helpers/kafka.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { referenceState } from '../merge/reference-model.js';

let dir: string;
const stream = `mwlake.test.e2e${process.pid}${Date.now().toString(36)}`;
const job = `e2e_${process.pid}`;

function capture(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  return { stream: new Writable({ write: (c, _e, cb) => (chunks.push(Buffer.from(c)), cb()) }), text: () => Buffer.concat(chunks).toString('utf8') };
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = capture();
  const err = capture();
  const env = { ...process.env, KAFKA_BROKERS: KAFKA_BROKERS.join(','), MWLAKE_TOPICS: `eqiad.${stream},codfw.${stream}`, MWLAKE_JOB_NAME: job };
  const code = await runCli(['--log-level', 'warn', ...args], { stdout: out.stream, stderr: err.stream, env });
  return { code, out: out.text(), err: err.text() };
}

const jsonOf = (text: string) => JSON.parse(text.trim().split('\n').at(-1)!) as Record<string, unknown>;

before(async () => {
  await requireBroker();
  dir = await mkdtemp(join(tmpdir(), 'mwlake-e2e-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let wh = '';
let dumps = '';

test('gen → drain → merge → dump, matching an independent fold of the events', { timeout: 600_000 }, async () => {
  wh = join(dir, 'warehouse');
  dumps = join(dir, 'dumps');
  const jsonl = join(dir, 'events.jsonl');
  const gen = ['--seed', '7', '--events', '1500', '--start', '2026-11-01', '--wikis', 'enwiki,dewiki', '--bad-fraction', '0.03', '--stream', stream];
  assert.equal((await cli('gen', ...gen, '--out', jsonl)).code, 0);
  const g = await cli('gen', ...gen, '--to', 'kafka', '--brokers', KAFKA_BROKERS.join(','));
  assert.equal(g.code, 0, g.err);

  // A crash between producing the error events and the commit: nothing is committed, a rerun replays.
  const d1 = await cli('drain', '--warehouse', wh);
  assert.equal(d1.code, 0, d1.err);
  const drained = jsonOf(d1.out);
  assert.equal(drained['consumed'], 1500);
  const errored = drained['errored'] as number;
  assert.ok(errored > 0 && errored < 100, `errored ${errored}`);
  const [filtered, deduplicated] = [drained['filtered'] as number, drained['deduplicated'] as number];
  assert.equal((drained['written'] as number) + errored + filtered + deduplicated, 1500, 'consumed = written + errored + filtered + deduplicated');
  assert.ok(filtered > 0, 'the stream has canaries');
  // The table holds exactly the good, non-canary, de-duplicated events.
  const held = await cli('query', '--warehouse', wh, "SELECT count(*) AS n, count(DISTINCT meta.id) AS ids, count(*) FILTER (WHERE meta.domain = 'canary') AS canaries FROM events");
  assert.deepEqual(JSON.parse(held.out), { n: drained['written'], ids: drained['written'], canaries: 0 });
  const errorEnd = await withAdmin((a) => a.fetchEndOffsets([`${job}.error`]));
  assert.equal(Number(errorEnd.reduce((n, p) => n + p.offset, 0n)), errored, 'every bad event is in <job>.error');

  const d2 = await cli('drain', '--warehouse', wh);
  assert.equal(jsonOf(d2.out)['consumed'], 0, 'a second drain finds nothing new');

  const m = await cli('merge', '--warehouse', wh);
  assert.equal(m.code, 0, m.err);
  const m2 = jsonOf((await cli('merge', '--warehouse', wh)).out);
  assert.ok((m2['tables'] as { skipped: boolean }[]).every((t) => t.skipped), 'a second merge skips');

  // Reference: the valid events of the generated file, folded in order.
  const events = readFileSync(jsonl, 'utf8').trim().split('\n').flatMap((line) => {
    try {
      const v = validatePageChange(JSON.parse(line));
      return v.ok ? [v.event as unknown as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
  const ref = referenceState(events.filter((e) => (e['meta'] as { domain?: string }).domain !== 'canary'));
  const q = await cli('query', '--warehouse', wh, 'SELECT wiki_id, revision_id, page_id, revision_sha1, revision_content_is_visible FROM revisions_raw ORDER BY ALL');
  assert.equal(q.code, 0, q.err);
  const rows = q.out.trim().split('\n').map((l) => JSON.parse(l) as { wiki_id: string; revision_id: number; revision_sha1: string | null; revision_content_is_visible: boolean | null });
  assert.equal(rows.length, ref.revisions.size, 'one row per (wiki, revision)');
  for (const r of rows) {
    const want = ref.revisions.get(`${r.wiki_id}:${r.revision_id}`);
    assert.ok(want !== undefined, `revision ${r.wiki_id}:${r.revision_id} is in the reference`);
    assert.equal(r.revision_sha1, want.revision_sha1);
    assert.equal(r.revision_content_is_visible, want.revision_content_is_visible);
  }

  // Pages too: title, namespace, redirect, latest revision, deletion, suppression, page-id merges.
  const pq = await cli('query', '--warehouse', wh, `SELECT wiki_id, page_id, page_namespace_id, page_title, page_redirect_target, page_latest_revision_id,
    page_is_deleted, page_is_suppressed, page_merged_into_page_id FROM pages ORDER BY ALL`);
  assert.equal(pq.code, 0, pq.err);
  const pageRows = pq.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(pageRows.length, ref.pages.size, 'one row per (wiki, page)');
  for (const p of pageRows) {
    const want = ref.pages.get(`${String(p['wiki_id'])}:${Number(p['page_id'])}`);
    assert.ok(want !== undefined, `page ${String(p['wiki_id'])}:${Number(p['page_id'])} is in the reference`);
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    assert.deepEqual(
      [p['page_namespace_id'], p['page_title'], p['page_redirect_target'], num(p['page_latest_revision_id']), p['page_is_deleted'] ?? null, p['page_is_suppressed'] ?? null, num(p['page_merged_into_page_id'])],
      [want.page_namespace_id, want.page_title, want.page_redirect_target, want.page_latest_revision_id, want.page_is_deleted, want.page_is_suppressed, want.page_merged_into_page_id],
      `page ${String(p['wiki_id'])}:${Number(p['page_id'])}`,
    );
  }
  // The stream exercised what the reference comparison is meant to cover.
  const kinds = new Set(events.map((e) => String(e['page_change_kind'])));
  assert.deepEqual([...kinds].sort(), ['create', 'delete', 'edit', 'move', 'undelete', 'visibility_change']);
  assert.ok([...ref.pages.values()].some((p) => p.page_is_suppressed === true), 'a suppressed delete');
  assert.ok(events.some((e) => e['created_redirect_page'] !== undefined), 'a move leaving a redirect');
  assert.ok([...ref.pages.values()].some((p) => p.page_merged_into_page_id !== null) || events.some((e) => e['page_change_kind'] === 'undelete'), 'an undelete');

  const dump = await cli('dump', '--warehouse', wh, '--dumps-root', dumps, '--wiki', 'enwiki', '--date', '2026-11-02');
  assert.equal(dump.code, 0, dump.err);
  const day = join(dumps, 'enwiki', '20261102');
  const history = readdirSync(day).find((f) => f.includes('pages-meta-history') && f.endsWith('.bz2'))!;
  assertValidExport(decompressFile(join(day, history)), history);
  const parsed = await readWithMwxml(join(day, history));
  const revisions = parsed.filter((l) => l['kind'] === 'revision');
  assert.ok(revisions.length > 0);
  assert.ok(revisions.every((r) => String(r['timestamp']) < '2026-11-02'), 'only revisions before the cutoff');
  assert.ok(existsSync(join(dumps, 'other', 'incr', 'enwiki', '20261102', 'maxrevid.txt')));
  // mwxml reads exactly the revisions the state holds for live pages before the cutoff.
  const stateQ = await cli('query', '--warehouse', wh, `SELECT revision_id, revision_content_is_visible AS text, user_is_visible AS usr, revision_comment_is_visible AS cmt
    FROM revisions WHERE wiki_id = 'enwiki' AND revision_dt < TIMESTAMPTZ '2026-11-02 00:00:00+00' ORDER BY 1`);
  const state = stateQ.out.trim().split('\n').map((l) => JSON.parse(l) as { revision_id: number; text: boolean | null; usr: boolean | null; cmt: boolean | null });
  assert.deepEqual(revisions.map((r) => Number(r['id'])).sort((a, b) => a - b), state.map((r) => Number(r.revision_id)));
  // Redaction follows the state's visibility flags.
  const byId = new Map(revisions.map((r) => [Number(r['id']), r]));
  let hidden = 0;
  for (const r of state) {
    const deleted = byId.get(Number(r.revision_id))!['deleted'] as { text: boolean; user: boolean; comment: boolean };
    assert.equal(deleted.text, r.text === false, `text of ${r.revision_id}`);
    assert.equal(deleted.comment, r.cmt === false, `comment of ${r.revision_id}`);
    if (r.usr === false) assert.equal(deleted.user, true, `user of ${r.revision_id}`);
    if (r.text === false) hidden++;
  }
  assert.ok(hidden > 0, 'the stream hides some content');
  // Deleted pages never appear.
  const deletedPages = (await cli('query', '--warehouse', wh, "SELECT page_id FROM pages WHERE wiki_id = 'enwiki' AND page_is_deleted")).out.trim().split('\n').filter((l) => l !== '').map((l) => Number((JSON.parse(l) as { page_id: number }).page_id));
  assert.ok(deletedPages.length > 0, 'the stream deletes some pages');
  const dumpedPages = new Set(parsed.filter((l) => l['kind'] === 'page').map((l) => Number(l['id'])));
  assert.deepEqual(deletedPages.filter((p) => dumpedPages.has(p)), []);
  // Adds-changes hold the revision ids above the previous day's max (no earlier run: computed) up to maxrevid.
  const incr = join(dumps, 'other', 'incr', 'enwiki', '20261102');
  const maxRevId = Number(readFileSync(join(incr, 'maxrevid.txt'), 'utf8').trim());
  const incrRevs = (await readWithMwxml(join(incr, readdirSync(incr).find((f) => f.startsWith('enwiki-20261102-stubs-meta-hist-incr'))!))).filter((l) => l['kind'] === 'revision').map((l) => Number(l['id']));
  const ids = async (sql: string) => (await cli('query', '--warehouse', wh, sql)).out.trim().split('\n').filter((l) => l !== '').map((l) => Number(Object.values(JSON.parse(l) as object)[0]));
  // maxrevid as legacy incr_dumps.py takes it: the id of the newest revision by time before the cutoff.
  const newestBefore = (day: string) => ids(`SELECT revision_id FROM revisions WHERE wiki_id = 'enwiki' AND revision_dt < TIMESTAMPTZ '${day} 00:00:00+00' ORDER BY revision_dt DESC, revision_id DESC LIMIT 1`);
  assert.deepEqual([maxRevId], await newestBefore('2026-11-02'));
  const [previousMax] = await newestBefore('2026-11-01');
  const expectedIncr = await ids(`SELECT revision_id FROM revisions WHERE wiki_id = 'enwiki' AND revision_id > ${previousMax} AND revision_id <= ${maxRevId} ORDER BY 1`);
  assert.ok(expectedIncr.length > 0);
  assert.deepEqual(incrRevs.sort((a, b) => a - b), expectedIncr);
  const status = JSON.parse(readFileSync(join(day, 'dumpstatus.json'), 'utf8')) as { version: string };
  assert.equal(status.version, '0.8');

  // Rerunning the same date rewrites byte-identical files.
  const before = readFileSync(join(day, history));
  assert.equal((await cli('dump', '--warehouse', wh, '--dumps-root', dumps, '--wiki', 'enwiki', '--date', '2026-11-02')).code, 0);
  assert.ok(readFileSync(join(day, history)).equals(before));

  // One job alone: the history again, the other files untouched (the adds-changes run too).
  const untouched = ['enwiki-20261102-pages-meta-current.xml.bz2', 'dumpstatus.json'].map((name) => [name, statSync(join(day, name)).mtimeMs] as const);
  const incrStatus = statSync(join(incr, 'status.txt')).mtimeMs;
  const one = await cli('dump', '--warehouse', wh, '--dumps-root', dumps, '--wiki', 'enwiki', '--date', '2026-11-02', '--jobs', 'metahistorybz2dump');
  assert.equal(one.code, 0, one.err);
  assert.ok(readFileSync(join(day, history)).equals(before));
  assert.equal(statSync(join(day, untouched[0]![0])).mtimeMs, untouched[0]![1]);
  assert.notEqual(statSync(join(day, 'dumpstatus.json')).mtimeMs, untouched[1]![1]);
  assert.equal(statSync(join(incr, 'status.txt')).mtimeMs, incrStatus);
  // A date whose adds-changes never completed (the night failed before them) gets them from a run of some jobs.
  rmSync(join(incr, 'status.txt'));
  const withIncr = await cli('dump', '--warehouse', wh, '--dumps-root', dumps, '--wiki', 'enwiki', '--date', '2026-11-02', '--jobs', ' metahistorybz2dump');
  assert.equal(withIncr.code, 0, withIncr.err);
  assert.equal(readFileSync(join(incr, 'status.txt'), 'utf8'), 'done');
  const bad = await cli('dump', '--warehouse', wh, '--dumps-root', dumps, '--wiki', 'enwiki', '--date', '2026-11-02', '--jobs', 'metahistorybz3dump');
  assert.equal(bad.code, ExitCode.Usage, bad.err);
  assert.match(bad.err, /unknown dump job "metahistorybz3dump": the jobs are pagetitlesdump, allpagetitlesdump, xmlstubsdump, .*metahistorybz2dump/);
});

test('a second concurrent run exits 75 naming the holder', { timeout: 120_000 }, async () => {
  assert.ok(wh !== '', 'runs after the end-to-end test');
  const warehouse = warehouseOf(await loadConfig(undefined, { MWLAKE_JOB_NAME: job, MWLAKE_WAREHOUSE: wh }), silentLogger());
  const lease = await acquireLease({ storage: warehouse.storage, warehouseLocation: warehouse.rootLocation, job, command: 'nightly', logger: silentLogger() });
  try {
    const r = await cli('nightly', '--warehouse', wh);
    assert.equal(r.code, ExitCode.TempFail, r.err);
    assert.match(r.err, new RegExp(`locked by pid ${process.pid} on `));
  } finally {
    await lease.release();
  }
});

test('maintenance compacts, expires and removes orphans without changing a row, and the next merge still works', { timeout: 300_000 }, async () => {
  assert.ok(wh !== '', 'runs after the end-to-end test');
  const jobFile = join(dir, 'job.yaml');
  await writeFile(jobFile, [
    `job_name: ${job}`,
    `warehouse: ${wh}`,
    'maintenance:',
    '  target_file_size_mb: 64',
    '  compact_min_input_files: 2',
    '  expire_snapshots_older_than_days: 0',
    '  retain_last_snapshots: 1',
    '  remove_orphans_older_than_hours: 0',
  ].join('\n'));
  const more = async (seed: string, events: number, start: string) => {
    const gen = ['--seed', seed, '--events', String(events), '--start', start, '--wikis', 'enwiki', '--bad-fraction', '0', '--stream', stream];
    assert.equal((await cli('gen', ...gen, '--to', 'kafka', '--brokers', KAFKA_BROKERS.join(','))).code, 0);
    assert.equal(jsonOf((await cli('drain', '--config', jobFile)).out)['consumed'], events);
    const m = await cli('merge', '--config', jobFile);
    assert.equal(m.code, 0, m.err);
    assert.ok((jsonOf(m.out)['tables'] as { skipped: boolean }[]).every((t) => !t.skipped), 'the merge picks up the new events');
  };
  // A second night: every table gets a second snapshot and more files.
  await more('8', 200, '2026-11-01');
  const query = async (sql: string) => {
    const q = await cli('query', '--config', jobFile, sql);
    assert.equal(q.code, 0, q.err);
    return q.out;
  };
  const snapshotRows = () => query('SELECT * FROM revisions_raw ORDER BY wiki_id, revision_id');
  const pagesRows = () => query('SELECT * FROM pages ORDER BY wiki_id, page_id');
  const before = [await snapshotRows(), await pagesRows()];
  // A crashed run's leftover: old enough to be an orphan at once under this job file.
  const orphan = join(wh, 'state', 'revisions', 'data', 'leftover.parquet');
  await writeFile(orphan, 'partial');
  await utimes(orphan, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));

  const dry = await cli('maintain', '--config', jobFile, '--dry-run');
  assert.equal(dry.code, 0, dry.err);
  assert.ok(existsSync(orphan), 'a dry run changes nothing');
  const r = await cli('maintain', '--config', jobFile);
  assert.equal(r.code, 0, r.err);
  const result = jsonOf(r.out) as { tables: { table: string; compaction?: { filesRewritten: number }; expiry?: { snapshotsExpired: number }; orphans?: { filesRemoved: number } }[] };
  const revisions = result.tables.find((t) => t.table === 'state.revisions')!;
  assert.ok((revisions.compaction?.filesRewritten ?? 0) >= 2, `revisions compacted: ${r.out}`);
  for (const t of result.tables) assert.ok((t.expiry?.snapshotsExpired ?? 0) >= 1, `${t.table} expired a snapshot: ${r.out}`);
  assert.ok((revisions.orphans?.filesRemoved ?? 0) >= 1, JSON.stringify(revisions));
  assert.equal(existsSync(orphan), false);
  assert.deepEqual([await snapshotRows(), await pagesRows()], before, `maintenance changes no row: ${r.out}`);

  // New events after maintenance drain and merge from where the state tables left off.
  await more('9', 100, '2026-11-01');
});

test('nightly catches up every missed date, then finds nothing to do, and writes report and metrics', { timeout: 600_000 }, async () => {
  assert.ok(wh !== '', 'runs after the end-to-end test');
  const metrics = join(dir, 'mwlake.prom');
  const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: job, MWLAKE_WAREHOUSE: wh, MWLAKE_DUMPS_ROOT: dumps, MWLAKE_METRICS_FILE: metrics, KAFKA_BROKERS: KAFKA_BROKERS.join(','), MWLAKE_TOPICS: `eqiad.${stream},codfw.${stream}` });
  // The last complete dump is 2026-11-02; "today" is 2026-11-06: three missed dates are due.
  const first = await runNightly({ config, logger: silentLogger(), today: '2026-11-06' });
  assert.deepEqual(first.steps.dumps?.dates, ['2026-11-03', '2026-11-04', '2026-11-05']);
  for (const d of ['20261103', '20261104', '20261105']) for (const wiki of ['enwiki', 'dewiki']) assert.ok(existsSync(join(dumps, wiki, d, 'dumpstatus.json')), `${wiki} ${d}`);
  const second = await runNightly({ config, logger: silentLogger(), today: '2026-11-06' });
  assert.deepEqual(second.steps.dumps?.dates, [], 'nothing is due the second time');
  // A night that failed partway (one wiki's jobs failed, the next wiki never tried) is due again.
  const statusFile = join(dumps, 'dewiki', '20261104', 'dumpstatus.json');
  writeFileSync(statusFile, readFileSync(statusFile, 'utf8').replaceAll('"done"', '"failed"'));
  const failedNight = jsonOf((await cli('status', '--warehouse', wh, '--json')).out) as { dumps: Record<string, { present: string[]; incomplete: string[] }> };
  assert.deepEqual(failedNight.dumps['dewiki']?.incomplete, ['2026-11-04'], 'status shows the failed night');
  assert.ok(!failedNight.dumps['dewiki']?.present.includes('2026-11-04'));
  const enwikiRun = join(dumps, 'enwiki', '20261104');
  const enwikiFiles = () => readdirSync(enwikiRun).map((f) => `${f} ${statSync(join(enwikiRun, f)).mtimeMs}`).sort();
  const enwikiBefore = enwikiFiles();
  const retried = await runNightly({ config, logger: silentLogger(), today: '2026-11-06' });
  assert.deepEqual(retried.steps.dumps?.dates, ['2026-11-04']);
  // Only the wiki that failed is dumped again; the one that completed that night keeps its files.
  const retriedWikis = (retried.steps.dumps?.results ?? []).map((r) => `${r.wiki}${r.kept === true ? ' kept' : ` ${r.files} files`}`);
  assert.deepEqual(retriedWikis.map((w) => w.replace(/ \d+ files$/, ' written')), ['dewiki written', 'enwiki kept'], retriedWikis.join(', '));
  assert.deepEqual(enwikiFiles(), enwikiBefore, 'the completed wiki is not rewritten');
  assert.ok(JSON.parse(readFileSync(statusFile, 'utf8')).jobs.metahistorybz2dump.status === 'done', 'the failed wiki is done now');
  assert.deepEqual((await runNightly({ config, logger: silentLogger(), today: '2026-11-06' })).steps.dumps?.dates, []);
  // A night that stopped before reaching a wiki (an earlier one failed) left it no folder: due for it still.
  rmSync(join(dumps, 'dewiki', '20261105'), { recursive: true });
  const unreached = await runNightly({ config, logger: silentLogger(), today: '2026-11-06' });
  assert.deepEqual(unreached.steps.dumps?.dates, ['2026-11-05']);
  assert.deepEqual((unreached.steps.dumps?.results ?? []).map((r) => `${r.wiki}${r.kept === true ? ' kept' : ''}`), ['dewiki', 'enwiki kept']);
  assert.ok(existsSync(join(dumps, 'dewiki', '20261105', 'dumpstatus.json')));
  // A wiki taken off the job's list keeps its folders, but its failed night is no longer due.
  const done = readFileSync(statusFile, 'utf8');
  writeFileSync(statusFile, done.replaceAll('"done"', '"failed"'));
  const enwikiOnly = { ...config, dumps: { ...config.dumps, wikis: ['enwiki'] } };
  assert.deepEqual((await runNightly({ config: enwikiOnly, logger: silentLogger(), today: '2026-11-06' })).steps.dumps?.dates, []);
  // status shows the same wikis as the job's: no dewiki, so no failed night nightly would not retry.
  const listedStatus = await runStatus({ config: enwikiOnly, warehouse: warehouseOf(enwikiOnly), logger: silentLogger(), today: '2026-11-06' });
  assert.deepEqual(Object.keys(listedStatus.dumps), ['enwiki']);
  writeFileSync(statusFile, done);
  // With `wikis: all`, a wiki the state does not hold (dumped once by hand) is not the job's: its
  // old folder makes no date due, every night after, and status does not count its missing dates.
  assert.equal(config.dumps.wikis, 'all');
  mkdirSync(join(dumps, 'jawiki', '20261101'), { recursive: true });
  assert.deepEqual((await runNightly({ config, logger: silentLogger(), today: '2026-11-06' })).steps.dumps?.dates, []);
  assert.deepEqual(Object.keys((await runStatus({ config, warehouse: warehouseOf(config), logger: silentLogger(), today: '2026-11-06' })).dumps), ['dewiki', 'enwiki']);
  rmSync(join(dumps, 'jawiki'), { recursive: true });
  assert.equal(second.steps.drain?.consumed, 0);
  assert.ok((second.steps.merge?.tables ?? []).every((t) => t.skipped));
  const reports = readdirSync(join(wh, '_reports')).filter((f) => f.startsWith(`${job}-`));
  assert.ok(reports.length >= 2);
  // node_exporter textfile format: HELP/TYPE lines, then name{labels} value.
  const text = readFileSync(metrics, 'utf8');
  for (const line of text.trim().split('\n')) assert.match(line, /^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+)$/, line);
  assert.match(text, new RegExp(`mwlake_last_success_timestamp_seconds\\{job="${job}"\\} \\d+`));
  assert.match(text, new RegExp(`mwlake_step_duration_seconds\\{job="${job}",step="merge"\\} `));
  assert.match(text, new RegExp(`\\nmwlake_events_without_content\\{job="${job}"\\} 0\\n`), 'generated events all carry their content');
  assert.match(text, new RegExp(`mwlake_table_records\\{job="${job}",table="state.revisions"\\} [1-9]`));
  assert.match(text, new RegExp(`mwlake_table_position_deletes\\{job="${job}",table="state.revisions"\\} [0-9]`));
  // Another job whose name starts with this one's and a dash: its report is not this job's last run.
  writeFileSync(join(wh, '_reports', `${job}-eu-2099-01-01T000000.000Z.json`), JSON.stringify({ startedAt: '2099-01-01T00:00:00.000Z', durationMs: 1 }));

  // status: tables, lag against the broker, the last run, dump dates present and missing.
  const st = await cli('status', '--warehouse', wh, '--json');
  assert.equal(st.code, 0, st.err);
  const status = jsonOf(st.out) as { tables: { table: string; records: number; positionDeletes: number }[]; kafka: { totalLag?: string; error?: string }; lastRun: { startedAt: string } | null; dumps: Record<string, { present: string[]; missing: string[] }> };
  assert.deepEqual(status.tables.map((t) => t.table), ['events.page_content_change', 'state.pages', 'state.revisions']);
  assert.ok(status.tables.every((t) => t.records > 0 && Number.isInteger(t.positionDeletes)));
  assert.equal(status.kafka.totalLag, '0', JSON.stringify(status.kafka));
  assert.ok(status.lastRun !== null);
  assert.notEqual(status.lastRun.startedAt, '2099-01-01T00:00:00.000Z');
  assert.deepEqual(status.dumps['enwiki']?.present.slice(0, 4), ['2026-11-02', '2026-11-03', '2026-11-04', '2026-11-05']);
  assert.ok((await cli('status', '--warehouse', wh)).out.includes('total lag 0'));
  // --dumps-root beats the job's root (here MWLAKE_DUMPS_ROOT's default): none of its dates are there.
  const elsewhere = jsonOf((await cli('status', '--warehouse', wh, '--dumps-root', join(dir, 'no-dumps-here'), '--json')).out) as typeof status;
  assert.deepEqual(elsewhere.dumps['enwiki']?.present ?? [], []);

  // --date past a due date dumps that date only, and says how to dump the one it leaves behind.
  const { logger, lines: logged } = capturingLogger();
  const ahead = await runNightly({ config, logger, today: '2026-11-08', date: '2026-11-07' });
  assert.deepEqual(ahead.steps.dumps?.dates, ['2026-11-07']);
  const lines = logged.map((line) => JSON.stringify(line));
  assert.ok(lines.some((l) => l.includes('1 earlier due date (2026-11-06) will not be due again') && l.includes('mwlake dump --from 2026-11-06 --to 2026-11-06')), lines.join(''));
});

test('a wiki the namespace map lacks fails the night alone: the wikis after it are dumped, and the night writes no report', { timeout: 300_000 }, async () => {
  assert.ok(wh !== '', 'runs after the end-to-end test');
  const base = await loadConfig(undefined, { MWLAKE_JOB_NAME: job, MWLAKE_WAREHOUSE: wh, MWLAKE_DUMPS_ROOT: dumps, KAFKA_BROKERS: KAFKA_BROKERS.join(','), MWLAKE_TOPICS: `eqiad.${stream},codfw.${stream}` });
  // A map as old as a new wiki: the bundled one without dewiki, which sorts before enwiki.
  const map = join(dir, 'map-without-dewiki.json.gz');
  const lines = gunzipSync(readFileSync(join(fileURLToPath(new URL('../../../jobs/siteinfo/namespace_map.json.gz', import.meta.url))))).toString('utf8').split('\n');
  writeFileSync(map, gzipSync(lines.filter((l) => !l.includes('"dbname":"dewiki"')).join('\n')));
  const config = { ...base, dumps: { ...base.dumps, namespaceMap: map } };
  const reports = () => (existsSync(join(wh, '_reports')) ? readdirSync(join(wh, '_reports')) : []).filter((f) => f.startsWith(`${job}-`)).sort();
  const before = reports();
  await assert.rejects(runNightly({ config, logger: silentLogger(), today: '2026-11-09' }), (error: Error & { exitCode?: number }) => {
    assert.equal(error.exitCode, ExitCode.Data, error.message);
    assert.match(error.message, /^the dumps of dewiki were not written \(the namespace map .*map-without-dewiki\.json\.gz has no line for wiki "dewiki".*\); the run went on with the other 1 wiki$/);
    return true;
  });
  assert.ok(existsSync(join(dumps, 'enwiki', '20261108', 'dumpstatus.json')), 'the wiki after it is dumped');
  assert.ok(!existsSync(join(dumps, 'dewiki', '20261108')), 'nothing is written for the wiki the map lacks');
  assert.deepEqual(reports(), before, 'a failed night writes no report');
  const status = async (c: typeof base) => (await runStatus({ config: c, warehouse: warehouseOf(c), logger: silentLogger(), today: '2026-11-09' })).namespaceMap;
  assert.deepEqual(await status(config), { path: map, unmapped: ['dewiki'] });
  // With a map that has it, the next night dumps the wiki that failed and keeps the other.
  const fixed = await runNightly({ config: base, logger: silentLogger(), today: '2026-11-09' });
  assert.deepEqual((fixed.steps.dumps?.results ?? []).map((r) => [r.wiki, r.date, r.kept === true]), [['dewiki', '2026-11-08', false], ['enwiki', '2026-11-08', true]]);
  assert.deepEqual(await status(base), { path: DEFAULT_NAMESPACE_MAP, unmapped: [] });
});

test('a night whose metrics file cannot be written fails (77 here, 71 on a full disk) and leaves no report saying it succeeded', { timeout: 300_000 }, async () => {
  assert.ok(wh !== '', 'runs after the end-to-end test');
  // A folder made where the file should be once the night is past its checks (a folder there
  // before is refused at once): the rename onto it fails.
  const metrics = join(dir, 'metrics-is-a-folder');
  const folderOnceRunning = { update: () => mkdirSync(metrics, { recursive: true }), done: () => mkdirSync(metrics, { recursive: true }) };
  const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: job, MWLAKE_WAREHOUSE: wh, MWLAKE_DUMPS_ROOT: dumps, MWLAKE_METRICS_FILE: metrics, KAFKA_BROKERS: KAFKA_BROKERS.join(','), MWLAKE_TOPICS: `eqiad.${stream},codfw.${stream}` });
  const reports = () => (existsSync(join(wh, '_reports')) ? readdirSync(join(wh, '_reports')) : []).filter((f) => f.startsWith(`${job}-`)).sort();
  const before = reports();
  const lastRun = async () => (await runStatus({ config, warehouse: warehouseOf(config), logger: silentLogger(), today: '2026-11-06' })).lastRun;
  const lastBefore = await lastRun();
  for (let i = 0; i < 2; i++) {
    rmSync(metrics, { recursive: true, force: true });
    await assert.rejects(runNightly({ config, logger: silentLogger(), today: '2026-11-06', progress: folderOnceRunning }), (error: Error & { exitCode?: number }) => {
      assert.equal(error.exitCode, ExitCode.Refused, error.message);
      assert.ok(error.message.includes(metrics), error.message);
      return true;
    });
  }
  assert.deepEqual(reports(), before, 'no report of the failed nights');
  assert.deepEqual(await lastRun(), lastBefore, 'status still shows the last successful run');
  rmSync(metrics, { recursive: true });
});

test('a night taken over before it released its lease fails (75) and writes no report', { timeout: 300_000 }, async () => {
  assert.ok(wh !== '', 'runs after the end-to-end test');
  const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: job, MWLAKE_WAREHOUSE: wh, MWLAKE_DUMPS_ROOT: dumps, KAFKA_BROKERS: KAFKA_BROKERS.join(','), MWLAKE_TOPICS: `eqiad.${stream},codfw.${stream}` });
  const reports = () => (existsSync(join(wh, '_reports')) ? readdirSync(join(wh, '_reports')) : []).filter((f) => f.startsWith(`${job}-`)).sort();
  const before = reports();
  const leaseFile = join(wh, '_leases', `${job}.json`);
  // Another run takes the lease over while this one dumps (as after a stall past the expiry).
  let takenOver = false;
  const progress = {
    update(label: string) {
      if (label !== 'dumps' || takenOver) return;
      const holder = JSON.parse(readFileSync(leaseFile, 'utf8')) as Record<string, unknown>;
      writeFileSync(leaseFile, JSON.stringify({ ...holder, leaseId: 'another-run', pid: 1 }));
      takenOver = true;
    },
    done() {},
  };
  try {
    await assert.rejects(runNightly({ config, logger: silentLogger(), today: '2026-11-11', date: '2026-11-10', progress }), (error: Error & { exitCode?: number }) => {
      assert.equal(error.exitCode, ExitCode.TempFail, error.message);
      assert.match(error.message, /lost its lease/);
      return true;
    });
  } finally {
    rmSync(leaseFile, { force: true });
  }
  assert.ok(takenOver, 'the night dumped');
  assert.deepEqual(reports(), before, 'a night that lost its lease writes no report');
});

test('a metrics file whose folder is missing fails the night at once (78), before the warehouse or Kafka is touched, a dry run too; one in a warehouse folder the night creates is fine, for a dry run too', async () => {
  const warehouse = join(dir, 'wh-metrics');
  const metrics = join(dir, 'no-such-folder', 'mwlake.prom');
  const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: job, MWLAKE_WAREHOUSE: warehouse, MWLAKE_METRICS_FILE: metrics, KAFKA_BROKERS: '127.0.0.1:1' });
  for (const dryRun of [false, true]) {
    await assert.rejects(runNightly({ config, logger: silentLogger(), dryRun }), (error: Error & { exitCode?: number }) => {
      assert.equal(error.exitCode, ExitCode.Config, `dryRun ${dryRun}: ${error.message}`);
      assert.match(error.message, /metrics_file \(MWLAKE_METRICS_FILE\) .*mwlake\.prom: .*no-such-folder does not exist/);
      return true;
    });
  }
  assert.equal(existsSync(warehouse), false, 'no warehouse folder, no lease');
  // One in the warehouse folder is fine before the first night, which creates that folder.
  const inside = await loadConfig(undefined, { MWLAKE_JOB_NAME: job, MWLAKE_WAREHOUSE: warehouse, MWLAKE_METRICS_FILE: join(warehouse, 'mwlake.prom'), KAFKA_BROKERS: KAFKA_BROKERS.join(','), MWLAKE_TOPICS: `eqiad.${stream}-no-such-topic` });
  // A first dry run accepts it too (it goes on to the topic), and creates nothing.
  await assert.rejects(runNightly({ config: inside, logger: silentLogger(), dryRun: true }), (error: Error & { exitCode?: number }) => {
    assert.notEqual(error.exitCode, ExitCode.Config, error.message);
    assert.match(error.message, /no-such-topic/);
    return true;
  });
  assert.equal(existsSync(warehouse), false, 'a dry run creates no warehouse folder');
  await assert.rejects(runNightly({ config: inside, logger: silentLogger() }), (error: Error & { exitCode?: number }) => {
    assert.notEqual(error.exitCode, ExitCode.Config, error.message);
    assert.match(error.message, /no-such-topic/);
    return true;
  });
  assert.equal(existsSync(warehouse), true);
});

test('usage errors exit 64 and name the problem', async () => {
  const r = await cli('dump', '--warehouse', join(dir, 'wh2'), '--date', '2026-13-45');
  assert.equal(r.code, ExitCode.Usage);
  assert.match(r.err, /not a calendar date/);
  // Date.parse would roll these over to March; a future date's dump would be incomplete.
  // Each names the flag the date came from.
  for (const [args, message] of [
    [['--date', '2026-02-30'], /--date: not a calendar date.*2026-02-30/],
    [['--from', '2026-02-27', '--to', '2026-02-31'], /--to: not a calendar date.*2026-02-31/],
    [['--from', '2026-2-27', '--to', '2026-02-28'], /--from: not a date/],
    [['--date', '2099-01-01'], /--date: date 2099-01-01 is in the future/],
  ] as const) {
    const bad = await cli('dump', '--warehouse', join(dir, 'wh2'), ...args);
    assert.equal(bad.code, ExitCode.Usage, bad.err);
    assert.match(bad.err, message);
  }
  // The commands that create their warehouse do so only once their flags passed: a mistyped
  // --warehouse beside a bad flag leaves no folder behind.
  const typo = join(dir, 'wh-typo');
  for (const [args, message] of [
    [['nightly', '--date', '2026-02-30'], /--date: not a calendar date/],
    [['drain', '--force'], /--force applies to a replay/],
    [['drain', '--only-stream', 'x'], /--only-stream applies to a replay/],
    [['drain', '--from', 'yesterday', '--to', 'today'], /a replay needs --from and --to as ISO times/],
    [['drain', '--reset-offsets', ' , '], /--reset-offsets takes topic names/],
    [['drain', '--reset-offsets', 'no.such.topic'], /--reset-offsets names no\.such\.topic, which the job does not drain/],
    [['drain', '--from', '2026-11-02T00:00:00Z', '--to', '2026-11-01T00:00:00Z'], /--from must be before --to/],
    [['drain', '--from', '2026-11-01T00:00:00Z', '--to', '2026-11-02T00:00:00Z', '--only-stream', 'visibility'], /this job reads no legacy visibility stream/],
  ] as const) {
    const bad = await cli(...args, '--warehouse', typo);
    assert.equal(bad.code, ExitCode.Usage, bad.err);
    assert.match(bad.err, message);
    assert.equal(existsSync(typo), false, `${args.join(' ')} created ${typo}`);
  }
  // A warehouse path through a file is refused as storage (77) naming it, not reported missing (65).
  const throughFile = join(dir, 'a-file');
  writeFileSync(throughFile, '');
  const refused = await cli('merge', '--warehouse', join(throughFile, 'wh'));
  assert.equal(refused.code, ExitCode.Refused, refused.err);
  assert.match(refused.err, /stat failed for .*a-file\/wh: ENOTDIR/);
});

test('a metrics_file that is a folder fails the night at once (78), before the warehouse is created', async () => {
  const warehouse = join(dir, 'wh-metrics-folder');
  const metrics = join(dir, 'metrics-folder');
  mkdirSync(metrics, { recursive: true });
  const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: job, MWLAKE_WAREHOUSE: warehouse, MWLAKE_METRICS_FILE: metrics, KAFKA_BROKERS: '127.0.0.1:1' });
  await assert.rejects(runNightly({ config, logger: silentLogger() }), (error: Error & { exitCode?: number }) => {
    assert.equal(error.exitCode, ExitCode.Config, error.message);
    assert.match(error.message, /metrics_file \(MWLAKE_METRICS_FILE\) .*metrics-folder is a folder; name the file to write, such as .*metrics-folder\/mwlake\.prom/);
    return true;
  });
  assert.equal(existsSync(warehouse), false, 'no warehouse folder, no lease');
});

test('a host without the compressors the dumps need fails the night at once (78), naming the Debian package, before the warehouse is created; and the dump step before it reads', async () => {
  const warehouse = join(dir, 'wh-no-compressor');
  // A PATH without any compressor, and one with lbzip2 alone (what a zstd job lacks).
  const none = join(dir, 'bin-none');
  const bz2Only = join(dir, 'bin-bz2-only');
  mkdirSync(none, { recursive: true });
  mkdirSync(bz2Only, { recursive: true });
  const lbzip2 = spawnSync('sh', ['-c', 'command -v lbzip2 || command -v bzip2'], { encoding: 'utf8' }).stdout.trim();
  symlinkSync(lbzip2, join(bz2Only, 'lbzip2'));
  const path = process.env.PATH;
  try {
    for (const [bin, compression, missing] of [[none, 'bz2', /bz2 compression needs lbzip2 \(or bzip2\) on PATH, found none; install the Debian package lbzip2/], [bz2Only, 'zstd', /zstd compression needs zstd on PATH, found none; install the Debian package zstd/]] as const) {
      const loaded = await loadConfig(undefined, { MWLAKE_JOB_NAME: job, MWLAKE_WAREHOUSE: warehouse, KAFKA_BROKERS: '127.0.0.1:1' });
      const config = { ...loaded, dumps: { ...loaded.dumps, compression } };
      process.env.PATH = bin;
      const refused = (error: Error & { exitCode?: number }) => {
        assert.equal(error.exitCode, ExitCode.Config, error.message);
        assert.match(error.message, missing);
        return true;
      };
      for (const dryRun of [false, true]) await assert.rejects(runNightly({ config, logger: silentLogger(), dryRun }), refused);
      await assert.rejects(runDumps({ config, warehouse: warehouseOf(config, silentLogger()), logger: silentLogger(), wikis: ['enwiki'], dates: ['2026-11-01'] }), refused);
      process.env.PATH = path;
    }
  } finally {
    process.env.PATH = path;
  }
  assert.equal(existsSync(warehouse), false, 'no warehouse folder, no lease');
});

test('a night whose drain stops at its cap dumps no date, nor does dump --due, until a drain reads to its ends', { timeout: 300_000 }, async () => {
  const capStream = `mwlake.test.cap${process.pid}${Date.now().toString(36)}`;
  const capJob = `cap_${process.pid}`;
  const [capWh, capDumps] = [join(dir, 'cap-warehouse'), join(dir, 'cap-dumps')];
  const env = { KAFKA_BROKERS: KAFKA_BROKERS.join(','), MWLAKE_TOPICS: `eqiad.${capStream},codfw.${capStream}`, MWLAKE_JOB_NAME: capJob, MWLAKE_WAREHOUSE: capWh, MWLAKE_DUMPS_ROOT: capDumps };
  // About 12 KB an event, so a fetch holds about 85 of a partition: each capped run stops after
  // one or two batches, and four capped runs leave events behind.
  const gen = await runCli(['gen', '--seed', '11', '--events', '2000', '--start', '2026-11-01', '--wikis', 'enwiki', '--stream', capStream, '--to', 'kafka', '--brokers', KAFKA_BROKERS.join(',')], { stdout: capture().stream, stderr: capture().stream, env: { ...process.env, ...env } });
  assert.equal(gen, 0);
  const jobFile = join(dir, 'cap.yaml');
  await writeFile(jobFile, 'job_name: ignored\ndrain:\n  max_events: 100\n');
  const capped = await loadConfig(jobFile, env);
  const { logger, lines: logged } = capturingLogger();
  const logText = (): string[] => logged.map((line) => JSON.stringify(line));
  const consumed: number[] = [];
  const night = async (config: typeof capped, today: string, date?: string) => {
    const r = await runNightly({ config, logger, today, ...(date === undefined ? {} : { date }) });
    consumed.push(r.steps.drain!.consumed);
    return r;
  };
  // An asked date is dumped, with a warning.
  const asked = await night(capped, '2026-11-06', '2026-11-03');
  assert.ok(consumed[0]! >= 100 && consumed[0]! < 500, `consumed ${consumed[0]}`);
  assert.deepEqual(asked.steps.dumps?.dates, ['2026-11-03']);
  assert.ok(logText().some((l) => l.includes('nightly: the last drain stopped at its cap') && l.includes('2026-11-03 is dumped as asked, but may miss events')), logText().join(''));
  // The due dates after it are withheld.
  logged.length = 0;
  const held = await night(capped, '2026-11-06');
  assert.deepEqual(held.steps.dumps?.dates, []);
  assert.deepEqual(held.steps.dumps?.heldDates, ['2026-11-04', '2026-11-05']);
  assert.equal(held.steps.dumps?.withheld?.[0]?.table, 'events.page_content_change');
  assert.ok(held.steps.dumps!.withheld![0]!.offsetsLeft > 0);
  assert.ok(logText().some((l) => l.includes('no date is dumped until a drain reads to its ends (due: 2026-11-04, 2026-11-05)')), logText().join(''));
  assert.deepEqual(readdirSync(join(capDumps, 'enwiki')).filter((d) => /^\d{8}$/.test(d)), ['20261103']);
  // The DAG's dump task: --due finds nothing due either, and says why in its result too.
  const dump = spawnSync(process.execPath, [fileURLToPath(new URL('../../src/cli/main.js', import.meta.url)), '--log-level', 'warn', 'dump', '--due'], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(dump.status, 0, dump.stderr);
  const printed = jsonOf(dump.stdout) as { dates: string[]; heldDates?: string[]; withheld?: { table: string }[] };
  // (up to the real yesterday: the CLI has no --today)
  assert.deepEqual([printed.dates, printed.heldDates?.slice(0, 2), printed.withheld?.[0]?.table], [[], ['2026-11-04', '2026-11-05'], 'events.page_content_change']);
  assert.match(dump.stderr, /dump: the last drain stopped at its cap .*no date is due until a drain reads to its ends/);
  // --date past withheld dates names those it leaves behind, as for any due date.
  logged.length = 0;
  const ahead = await night(capped, '2026-11-07', '2026-11-06');
  assert.deepEqual(ahead.steps.dumps?.dates, ['2026-11-06']);
  assert.ok(logText().some((l) => l.includes('2 earlier due dates (2026-11-04 to 2026-11-05) will not be due again')), logText().join(''));
  assert.notEqual(ahead.steps.dumps?.withheld, undefined, `the third capped run left events too: consumed ${consumed.join(', ')}`);
  assert.deepEqual(ahead.steps.dumps?.heldDates, [], 'none held after it: 2026-11-06 was yesterday');
  // Without the cap the next night drains the rest and dumps the dates due.
  const last = await night(await loadConfig(undefined, env), '2026-11-08');
  assert.equal(consumed.reduce((n, c) => n + c, 0), 2000);
  assert.equal(last.steps.dumps?.withheld, undefined);
  assert.deepEqual(last.steps.dumps?.dates, ['2026-11-07']);
  assert.ok(existsSync(join(capDumps, 'enwiki', '20261107', 'dumpstatus.json')));
});
