// The legacy `mediawiki.revision-visibility-change` stream against the real broker: drained into its
// own table with its own offsets and errors, merged into the revisions' visibility flags under the
// same ordering rules as page changes, and so out of the dumps: a suppression of an old revision,
// which page_change never carries, hides that revision's text and editor.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { interopScript, runPythonJsonLines } from '../helpers/python.js';
import { decodeRawEvent } from '../../src/events/error-event.js';
import { ERROR_SCHEMA_ID, validateAgainstSchema } from '../../src/events/validate.js';
import { KAFKA_BROKERS, messagesOf, produceRecords, rangesToEnd, readBounded, requireBroker, uniqueName, withAdmin } from '../helpers/kafka.js';
import { runCliCaptured, type CliResult } from '../helpers/cli.js';

let dir: string;
before(async () => {
  await requireBroker();
  dir = await mkdtemp(join(tmpdir(), 'mwlake-visibility-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const stream = uniqueName('mwlake.test.vis').replaceAll('-', '_');
const visibilityTopic = `eqiad.${stream}.revision-visibility-change`;
const job = `job_${stream}`;

/** The job the CLI runs as: each test sets its own. */
let current = { job, warehouse: 'wh', topics: `eqiad.${stream},codfw.${stream}`, visibilityTopics: visibilityTopic };

function env(): NodeJS.ProcessEnv {
  return {
    MWLAKE_JOB_NAME: current.job,
    MWLAKE_WAREHOUSE: join(dir, current.warehouse),
    MWLAKE_DUMPS_ROOT: join(dir, 'dumps'),
    KAFKA_BROKERS: KAFKA_BROKERS.join(','),
    MWLAKE_TOPICS: current.topics,
    MWLAKE_VISIBILITY_TOPICS: current.visibilityTopics,
    MWLAKE_METRICS_FILE: join(dir, 'mwlake.prom'),
  };
}

function cli(...args: string[]): Promise<CliResult> {
  return runCliCaptured(args, env());
}

async function json<T>(...args: string[]): Promise<T> {
  const r = await cli(...args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
  return JSON.parse(r.out.trim().split('\n').at(-1)!) as T;
}

async function query<T>(sql: string): Promise<T[]> {
  const r = await cli('query', '--format', 'json', sql);
  assert.equal(r.code, 0, `${sql}: ${r.err}`);
  return JSON.parse(r.out) as T[];
}

interface Flags {
  readonly text: boolean;
  readonly user: boolean;
  readonly comment: boolean;
}

/** A legacy event as EventBus writes it (the shape of the schema's example), for one revision. */
function visibilityEvent(r: { wiki: string; revisionId: number; pageId: number }, dt: string, visibility: Flags, id: string): Record<string, unknown> {
  return {
    $schema: '/mediawiki/revision/visibility-change/1.0.0',
    database: r.wiki,
    meta: { domain: 'en.wikipedia.org', dt, id, stream: 'mediawiki.revision-visibility-change', uri: 'https://en.wikipedia.org/wiki/X' },
    page_id: r.pageId,
    page_is_redirect: false,
    page_namespace: 0,
    page_title: 'X',
    performer: { user_groups: ['*', 'user', 'suppress'], user_id: 7, user_is_bot: false, user_text: 'Oversighter' },
    prior_state: { visibility: { comment: true, text: true, user: true } },
    rev_id: r.revisionId,
    rev_timestamp: '2026-11-01T00:00:00Z',
    visibility,
    rev_content_changed: true,
  };
}

test('legacy visibility changes of old revisions reach the state and the dumps; late, unknown, bad and canary ones do not', { timeout: 600_000 }, async () => {
  const gen = await cli('gen', '--seed', '11', '--events', '1500', '--start', '2026-11-01', '--wikis', 'enwiki', '--bad-fraction', '0', '--stream', stream, '--partitions', '2', '--to', 'kafka', '--brokers', KAFKA_BROKERS.join(','));
  assert.equal(gen.code, 0, gen.err);
  // Before its topic exists, status still shows the page change topics' lag, and says what failed.
  await mkdir(join(dir, 'wh'), { recursive: true });
  // It exits 65, as the drain does.
  const status = await cli('status', '--json');
  assert.equal(status.code, 65, status.err);
  const missing = JSON.parse(status.out.trim().split('\n').at(-1)!) as { kafka: { lag?: Record<string, string>; error?: string; errorCode?: string } };
  assert.equal(missing.kafka.errorCode, 'NOT_FOUND');
  assert.equal(missing.kafka.lag?.[`eqiad.${stream}:0`] !== undefined, true, JSON.stringify(missing.kafka));
  assert.match(missing.kafka.error ?? '', new RegExp(visibilityTopic.replaceAll('.', '\\.')));
  // Nor does drain start on one stream while the other's topic is missing: it stops before writing.
  const early = await cli('drain', '--json');
  assert.equal(early.code, 65, early.err);
  assert.match(early.err, new RegExp(visibilityTopic.replaceAll('.', '\\.')));
  // A replay of the page change stream alone does not need the missing topic; with nothing drained
  // yet there is nothing to replay.
  type Replayed = { consumed: number; skipped?: true; visibility: { consumed: number; skippedHeld: number; written: number; replaced: number; filtered: number; errored: number; skipped?: true } };
  const mainOnly = await json<Replayed>('drain', '--from', '2026-01-01T00:00:00Z', '--to', new Date(Date.now() + 60_000).toISOString(), '--only-stream', 'page_change', '--json');
  assert.deepEqual([mainOnly.consumed, mainOnly.skipped, mainOnly.visibility.skipped], [0, undefined, true]);
  const wrongStream = await cli('drain', '--from', '2026-01-01T00:00:00Z', '--to', '2026-01-02T00:00:00Z', '--only-stream', 'visibilty');
  assert.equal(wrongStream.code, 64, wrongStream.err);
  assert.match(wrongStream.err, /--only-stream takes page_change or visibility, found "visibilty"/);
  // Neither the failed drain nor the replay created a table.
  const stillMissing = await cli('status', '--json');
  assert.equal(stillMissing.code, 65, stillMissing.err);
  const untouched = JSON.parse(stillMissing.out.trim().split('\n').at(-1)!) as { tables: { table: string; records: number }[] };
  assert.deepEqual(untouched.tables, [], 'no table created');
  await withAdmin((a) => a.createTopic({ topic: visibilityTopic, partitions: 1 }));
  // A job that reads the stream before anything was produced to it drains nothing from it.
  const first = await json<{ written: number; visibility?: { consumed: number } }>('drain', '--json');
  assert.ok(first.written > 0);
  assert.equal(first.visibility?.consumed, 0);
  await json('merge');
  // A time after that merge and before any visibility change is merged (commit times are in ms).
  const beforeSuppression = Date.now();
  while (Date.now() === beforeSuppression);

  // An old revision (not its page's latest) with everything visible, and when it was made.
  const [old] = await query<{ wiki_id: string; revision_id: number; page_id: number }>(
    `SELECT r.wiki_id, r.revision_id, r.page_id FROM revisions r JOIN current c USING (wiki_id, page_id)
     WHERE r.revision_id < c.revision_id AND r.revision_content_is_visible AND r.user_is_visible AND r.revision_comment_is_visible
     ORDER BY r.revision_id LIMIT 1`,
  );
  assert.ok(old !== undefined, 'the generated history has an old revision');
  const target = { wiki: old.wiki_id, revisionId: Number(old.revision_id), pageId: Number(old.page_id) };
  const unknown = { ...target, revisionId: 2_000_000_000 };
  const hidden = { text: false, user: false, comment: true };
  const visible = { text: true, user: true, comment: true };
  const values = [
    visibilityEvent(target, '2026-11-20T10:00:00Z', hidden, 'a0000000-0000-4000-8000-000000000001'),
    // Delivered later but older: it must not make the revision visible again.
    visibilityEvent(target, '2026-11-19T10:00:00Z', visible, 'a0000000-0000-4000-8000-000000000002'),
    visibilityEvent(unknown, '2026-11-20T10:00:00Z', hidden, 'a0000000-0000-4000-8000-000000000003'),
    { ...visibilityEvent(target, '2026-11-21T10:00:00Z', visible, 'a0000000-0000-4000-8000-000000000004'), meta: { domain: 'canary', dt: '2026-11-21T10:00:00Z', stream: 'mediawiki.revision-visibility-change' } },
  ].map((e) => Buffer.from(JSON.stringify(e)));
  const { rev_id: _dropped, ...noRevision } = visibilityEvent(target, '2026-11-22T10:00:00Z', visible, 'a0000000-0000-4000-8000-000000000005');
  const bad = Buffer.from(JSON.stringify(noRevision));
  const producedFrom = new Date(Date.now() - 1000).toISOString();
  await produceRecords([...values, bad].map((value) => ({ topic: visibilityTopic, key: null, value })));

  // status counts the visibility topic's lag against its own table's offsets.
  const lagged = await json<{ kafka: { lag: Record<string, string> } }>('status', '--json');
  assert.equal(lagged.kafka.lag[`${visibilityTopic}:0`], '5');
  const second = await json<{ consumed: number; visibility: { consumed: number; written: number; errored: number; filtered: number } }>('drain', '--json');
  assert.equal(second.consumed, 0, 'the page change topics had nothing new');
  assert.deepEqual([second.visibility.consumed, second.visibility.written, second.visibility.errored, second.visibility.filtered], [5, 3, 1, 1]);
  // The bad event is in the job's error stream, naming the stream its meta names.
  const errors = messagesOf(await readBounded(await rangesToEnd(`${job}.error`))).map((m) => JSON.parse(m.value!.toString('utf8')) as { raw_event: string; errored_stream_name: string; message: string });
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.errored_stream_name, 'mediawiki.revision-visibility-change');
  assert.match(errors[0]!.message, /rev_id/);
  assert.equal(Buffer.from(decodeRawEvent(errors[0]!.raw_event)).toString('hex'), bad.toString('hex'));
  const check = validateAgainstSchema(ERROR_SCHEMA_ID, errors[0]);
  assert.ok(check.ok, check.ok ? '' : check.message);
  // The events keep their own shape, meta and all, in their own table: the view visibility_changes.
  const rows = await query<{ rev_id: number; text: boolean; stream: string; extra: string | null }>(
    'SELECT rev_id, visibility.text AS text, meta.stream AS stream, _unknown_properties AS extra FROM visibility_changes ORDER BY _kafka_offset',
  );
  assert.deepEqual(rows.map((r) => [Number(r.rev_id), r.text, r.stream, r.extra]), [
    [target.revisionId, false, 'mediawiki.revision-visibility-change', '{"rev_content_changed":true}'],
    [target.revisionId, true, 'mediawiki.revision-visibility-change', '{"rev_content_changed":true}'],
    [unknown.revisionId, false, 'mediawiki.revision-visibility-change', '{"rev_content_changed":true}'],
  ]);

  const merged = await json<{ visibilitySourceSnapshotId?: string; tables: { table: string; skipped: boolean; rowsWritten: number }[] }>('merge');
  assert.ok(merged.visibilitySourceSnapshotId !== undefined);
  const revisions = merged.tables.find((t) => t.table === 'state.revisions')!;
  assert.equal(revisions.skipped, false);
  assert.equal(revisions.rowsWritten, 2, 'the old revision changed, and the unknown one got a row');
  assert.equal(merged.tables.find((t) => t.table === 'state.pages')!.skipped, true);

  const [flags] = await query<{ c: boolean; u: boolean; m: boolean }>(
    `SELECT revision_content_is_visible AS c, user_is_visible AS u, revision_comment_is_visible AS m FROM revisions WHERE wiki_id = '${target.wiki}' AND revision_id = ${target.revisionId}`,
  );
  assert.deepEqual(flags, { c: false, u: false, m: true });
  // The past as of before that merge still has the revision visible: the merge of visibility
  // changes alone made a revisions snapshot of the same page-change source, later than that time.
  const asOf = new Date(beforeSuppression).toISOString();
  const past = await cli('query', '--format', 'json', '--as-of', asOf, `SELECT revision_content_is_visible AS c FROM revisions WHERE revision_id = ${target.revisionId}`);
  assert.equal(past.code, 0, past.err);
  assert.deepEqual(JSON.parse(past.out), [{ c: true }]);
  // A revision known only from a visibility change waits, out of every view, for its page change.
  assert.deepEqual(await query(`SELECT revision_id FROM revisions WHERE revision_id = ${unknown.revisionId}`), []);
  const [raw] = await query<{ page_id: number | null; c: boolean }>(`SELECT page_id, revision_content_is_visible AS c FROM revisions_raw WHERE revision_id = ${unknown.revisionId}`);
  assert.deepEqual(raw, { page_id: null, c: false });

  assert.equal((await json<{ kafka: { lag: Record<string, string> } }>('status', '--json')).kafka.lag[`${visibilityTopic}:0`], '0');
  // Run again: nothing new anywhere.
  const third = await json<{ visibility: { consumed: number } }>('drain', '--json');
  assert.equal(third.visibility.consumed, 0);
  const again = await json<{ tables: { skipped: boolean }[] }>('merge');
  assert.ok(again.tables.every((t) => t.skipped));
  // A replay of the window re-reads this stream too: the held rows are skipped, and with --force
  // replaced, so the table still holds each event once and the merge keeps the suppression.
  const window = ['--from', producedFrom, '--to', new Date(Date.now() + 60_000).toISOString(), '--json'];
  const replayed = await json<Replayed>('drain', ...window);
  assert.equal(replayed.consumed, 0, 'no page change was produced in the window');
  assert.deepEqual(replayed.visibility, { ...replayed.visibility, consumed: 5, skippedHeld: 3, written: 0, replaced: 0, filtered: 1, errored: 1 });
  const forced = await json<Replayed>('drain', ...window, '--force');
  assert.deepEqual(forced.visibility, { ...forced.visibility, consumed: 5, skippedHeld: 0, written: 3, replaced: 3 });
  assert.deepEqual(await query('SELECT count(*) AS n, count(DISTINCT meta.id) AS ids FROM visibility_changes'), [{ n: 3, ids: 3 }]);
  // The visibility stream alone: the page change stream is left out, not read.
  const alone = await json<Replayed>('drain', ...window, '--force', '--only-stream', 'visibility');
  assert.deepEqual([alone.skipped, alone.consumed], [true, 0]);
  assert.deepEqual(alone.visibility, { ...alone.visibility, consumed: 5, written: 3, replaced: 3 });
  assert.equal(alone.visibility.skipped, undefined);
  assert.deepEqual(await query('SELECT count(*) AS n, count(DISTINCT meta.id) AS ids FROM visibility_changes'), [{ n: 3, ids: 3 }]);
  await json('merge');
  const [kept] = await query<{ c: boolean }>(`SELECT revision_content_is_visible AS c FROM revisions WHERE revision_id = ${target.revisionId}`);
  assert.equal(kept?.c, false);
  // An older change delivered in a later run loses to the stored one, and is recorded as merged.
  await produceRecords([{ topic: visibilityTopic, key: null, value: Buffer.from(JSON.stringify(visibilityEvent(target, '2026-11-20T09:59:59Z', visible, 'a0000000-0000-4000-8000-000000000006'))) }]);
  assert.equal((await json<{ visibility: { written: number } }>('drain', '--json')).visibility.written, 1);
  const late = await json<{ tables: { table: string; skipped: boolean; rowsWritten: number }[] }>('merge');
  assert.deepEqual(late.tables.map((t) => [t.table, t.skipped, t.rowsWritten]), [['state.revisions', false, 0], ['state.pages', true, 0]]);
  assert.ok((await json<{ tables: { skipped: boolean }[] }>('merge')).tables.every((t) => t.skipped));
  const [still] = await query<{ c: boolean }>(`SELECT revision_content_is_visible AS c FROM revisions WHERE revision_id = ${target.revisionId}`);
  assert.equal(still?.c, false);

  // The history dump shows the revision with its text and editor removed.
  const dump = await cli('dump', '--wiki', target.wiki, '--date', '2026-12-01', '--jobs', 'metahistorybz2dump');
  assert.equal(dump.code, 0, dump.err);
  const file = join(dir, 'dumps', target.wiki, '20261201', `${target.wiki}-20261201-pages-meta-history.xml.bz2`);
  const xml = spawnSync('bunzip2', ['-c', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
  assert.equal(xml.status, 0, xml.stderr);
  const block = new RegExp(`<revision>\\s*<id>${target.revisionId}</id>[\\s\\S]*?</revision>`).exec(xml.stdout)?.[0];
  assert.ok(block !== undefined, `revision ${target.revisionId} is in the dump`);
  assert.match(block, /<contributor deleted="deleted" \/>/);
  assert.match(block, /<text bytes="-1" deleted="deleted" \/>/);
  assert.doesNotMatch(block, /<comment deleted="deleted"/);

  // nightly reports the stream too: its counts in their own metric, its table in the report.
  await json('nightly', '--json');
  const metrics = readFileSync(join(dir, 'mwlake.prom'), 'utf8');
  assert.match(metrics, new RegExp(`mwlake_visibility_events_total\\{job="${job}",outcome="consumed"\\} 0`));
  assert.match(metrics, new RegExp(`mwlake_kafka_lag\\{job="${job}",partition="${visibilityTopic.replaceAll('.', '\\.')}:0"\\} 0`));
  const reports = readdirSync(join(dir, 'wh', '_reports'));
  const report = JSON.parse(readFileSync(join(dir, 'wh', '_reports', reports.sort().at(-1)!), 'utf8')) as { tables: { table: string }[] };
  assert.ok(report.tables.some((t) => t.table === 'events.revision_visibility_change'));

  // Its table is real Iceberg: PyIceberg, DuckDB's iceberg extension and Spark read its 4 events.
  const request = { reads: [{ id: 'visibility', engines: ['pyiceberg', 'duckdb', 'spark'], table: join(dir, 'wh', 'events', 'revision_visibility_change') }] };
  const { lines } = await runPythonJsonLines(interopScript('iceberg_read.py'), [], JSON.stringify(request), { timeoutMs: 300_000, okExitCodes: [0, 1] });
  const reads = lines.filter((l) => l['kind'] === 'read');
  assert.deepEqual(reads.filter((l) => l['error'] !== undefined).map((l) => `${String(l['engine'])}: ${JSON.stringify(l['error'])}`), []);
  assert.deepEqual(reads.map((l) => l['engine']).sort(), ['duckdb', 'pyiceberg', 'spark']);
  for (const r of reads) {
    const got = (r['rows'] as { rev_id: string; visibility: { text: boolean } }[]).map((x) => `${x.rev_id}:${x.visibility.text}`).sort();
    assert.deepEqual(got, [`${target.revisionId}:false`, `${target.revisionId}:true`, `${target.revisionId}:true`, `${unknown.revisionId}:false`].sort(), String(r['engine']));
  }
});

test('gen --visibility-fraction feeds the legacy stream: after drain and merge, a revision whose newest event is a legacy one has its flags', { timeout: 300_000 }, async () => {
  const genStream = uniqueName('mwlake.test.visgen').replaceAll('-', '_');
  current = { job: `job_${genStream}`, warehouse: 'wh-gen', topics: `eqiad.${genStream},codfw.${genStream}`, visibilityTopics: `eqiad.${genStream}.rvc,codfw.${genStream}.rvc` };
  const gen = await cli('gen', '--seed', '3', '--events', '4000', '--start', '2026-11-01', '--wikis', 'enwiki,dewiki', '--stream', genStream,
    '--visibility-fraction', '0.05', '--visibility-stream', `${genStream}.rvc`, '--partitions', '2', '--to', 'kafka', '--brokers', KAFKA_BROKERS.join(','));
  assert.equal(gen.code, 0, gen.err);
  const report = JSON.parse(gen.out) as { records: number; visibilityChanges: number; byTopic: Record<string, number> };
  assert.ok(report.visibilityChanges > 50, gen.out);
  // Every legacy change is written once (their replays are dropped as repeats of a meta.id).
  const drained = await json<{ written: number; visibility: { written: number } }>('drain', '--json');
  assert.equal(drained.visibility.written, report.visibilityChanges);
  await json('merge');
  // Legacy changes are of older revisions, made after every event of theirs delivered on time; one
  // delivered late ranks at its dt. So every changed revision has its last legacy change's flags.
  const [outcome] = await query<{ changed: number; checked: number; known: number; wrong: number }>(
    `WITH legacy AS (
       SELECT database AS wiki_id, rev_id, visibility FROM visibility_changes
       QUALIFY row_number() OVER (PARTITION BY database, rev_id ORDER BY meta.dt DESC) = 1)
     SELECT (SELECT count(*) FROM legacy) AS changed, count(*) AS checked, count(r.page_id) AS known,
       count(*) FILTER (WHERE r.revision_content_is_visible IS DISTINCT FROM l.visibility.text OR r.user_is_visible IS DISTINCT FROM l.visibility.user
         OR r.revision_comment_is_visible IS DISTINCT FROM l.visibility.comment) AS wrong
     FROM legacy l JOIN revisions_raw r ON r.wiki_id = l.wiki_id AND r.revision_id = l.rev_id`,
  );
  assert.ok(outcome !== undefined && Number(outcome.checked) > 50 && Number(outcome.checked) === Number(outcome.changed), JSON.stringify(outcome));
  // About half are revisions the stream itself made; the others are older (flags-only rows).
  assert.ok(Number(outcome.known) * 3 > Number(outcome.checked), `a good share of the changed revisions are in the stream, not only older than it: ${JSON.stringify(outcome)}`);
  assert.equal(Number(outcome.wrong), 0, JSON.stringify(outcome));
  // --only-stream checks what it is given: a replay option, of a stream the job reads.
  const notReplay = await cli('drain', '--only-stream', 'visibility');
  assert.equal(notReplay.code, 64, notReplay.err);
  assert.match(notReplay.err, /--only-stream applies to a replay \(--from\/--to\) only/);
  current = { ...current, visibilityTopics: '' };
  const unread = await cli('drain', '--from', '2026-01-01T00:00:00Z', '--to', '2026-01-02T00:00:00Z', '--only-stream', 'visibility');
  assert.equal(unread.code, 64, unread.err);
  assert.match(unread.err, /--only-stream visibility: this job reads no legacy visibility stream/);
  const inherited = await cli('drain', '--from', '2026-01-01T00:00:00Z', '--to', '2026-01-02T00:00:00Z', '--only-stream', 'constructor');
  assert.match(inherited.err, /--only-stream takes page_change or visibility, found "constructor"/);
});
