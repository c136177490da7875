// End to end against the real broker, through the CLI: generated events in Kafka → drain (bad
// events to <job>.error) → merge → dumps, compared with an independent in-memory fold of the same
// events (test/merge/reference-model.ts); reruns change nothing; a crash before the commit replays.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { runCli } from '../../src/cli/main.js';
import { ExitCode } from '../../src/core/exit-codes.js';
import { validatePageChange } from '../../src/events/validate.js';
import { assertValidExport, decompressFile, readWithMwxml } from '../dumps/helpers.js';
import { KAFKA_BROKERS, requireBroker, withAdmin } from '../helpers/kafka.js';
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

test('gen → drain → merge → dump, matching an independent fold of the events', { timeout: 600_000 }, async () => {
  const wh = join(dir, 'warehouse');
  const dumps = join(dir, 'dumps');
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
  assert.equal((drained['written'] as number) + errored, 1500);
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
  assert.equal(maxRevId, Math.max(...state.map((r) => Number(r.revision_id))));
  const ids = async (sql: string) => (await cli('query', '--warehouse', wh, sql)).out.trim().split('\n').filter((l) => l !== '').map((l) => Number(Object.values(JSON.parse(l) as object)[0]));
  const [previousMax] = await ids("SELECT max(revision_id) FROM revisions WHERE wiki_id = 'enwiki' AND revision_dt < TIMESTAMPTZ '2026-11-01 00:00:00+00'");
  const expectedIncr = await ids(`SELECT revision_id FROM revisions WHERE wiki_id = 'enwiki' AND revision_id > ${previousMax} AND revision_id <= ${maxRevId} ORDER BY 1`);
  assert.ok(expectedIncr.length > 0);
  assert.deepEqual(incrRevs.sort((a, b) => a - b), expectedIncr);
  const status = JSON.parse(readFileSync(join(day, 'dumpstatus.json'), 'utf8')) as { version: string };
  assert.equal(status.version, '0.8');

  // Rerunning the same date rewrites byte-identical files.
  const before = readFileSync(join(day, history));
  assert.equal((await cli('dump', '--warehouse', wh, '--dumps-root', dumps, '--wiki', 'enwiki', '--date', '2026-11-02')).code, 0);
  assert.ok(readFileSync(join(day, history)).equals(before));
});

test('usage errors exit 64 and name the problem', async () => {
  const r = await cli('dump', '--warehouse', join(dir, 'wh2'), '--date', '2026-13-45');
  assert.equal(r.code, ExitCode.Usage);
  assert.match(r.err, /not a date/);
});
