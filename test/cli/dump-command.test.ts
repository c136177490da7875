// `mwlake dump` flags through the CLI: what a person types at 3 a.m. is read as meant or refused (64).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { runCli } from '../../src/cli/main.js';
import { ExitCode } from '../../src/core/exit-codes.js';
import { inTempDir } from '../helpers/temp-dir.js';
import { runCliCaptured, type CliResult } from '../helpers/cli.js';
import { appendBatch, garbleEventsMetadata, generatedEvents, merge, mergedWarehouseAt, warehouseAt } from '../merge/merge-fixture.js';

function cli(...args: string[]): Promise<CliResult> {
  return runCliCaptured(args);
}

test('--wiki is trimmed like every list ("enwiki, dewiki"); an empty one is a usage error', async () => {
  await inTempDir('mwlake-dump-cli-', async (dir) => {
    const warehouse = join(dir, 'wh');
    await mkdir(warehouse);
    const common = ['dump', '--warehouse', warehouse, '--job-name', 'j', '--dumps-root', join(dir, 'dumps'), '--date', '2026-11-02', '--dry-run'];
    // Read as two wikis: the run goes on to find nothing merged (65), not a usage error.
    const spaced = await cli(...common, '--wiki', 'enwiki, dewiki');
    assert.equal(spaced.code, ExitCode.Data, spaced.err);
    assert.match(spaced.err, /nothing to dump/);
    for (const empty of ['', ' , ']) {
      const r = await cli(...common, '--wiki', empty);
      assert.equal(r.code, ExitCode.Usage, r.err);
      assert.match(r.err, /--wiki takes all or wiki ids/);
    }
    // all stands alone: not a wiki named "all" that fails its dump after the night's work.
    for (const all of ['all,enwiki', 'ALL', 'enwiki, All']) {
      const r = await cli(...common, '--wiki', all);
      assert.equal(r.code, ExitCode.Usage, r.err);
      assert.match(r.err, /--wiki takes all \(alone, in lower case\)/);
    }
    assert.deepEqual(await readdir(dir), ['wh']);
  });
});

test('a wiki the namespace map lacks fails naming the setting that fixes it, not one that does not exist', { timeout: 120_000 }, async () => {
  await inTempDir('mwlake-dump-cli-', async (dir) => {
    const warehouse = join(dir, 'wh');
    await mergedWarehouseAt(warehouse, 1, 5);
    const r = await cli('dump', '--warehouse', warehouse, '--job-name', 'j', '--dumps-root', join(dir, 'dumps'), '--date', '2026-11-02', '--dry-run', '--wiki', 'enwikii');
    assert.equal(r.code, ExitCode.Data, r.err);
    assert.match(r.err, /has no line for wiki "enwikii": check the wiki id, or point dumps\.namespace_map in the job file at a map that has it/);
  });
});

test('a progress line is drawn on a terminal, but not among JSON log lines (--log-format json), which it would break', { timeout: 120_000 }, async () => {
  await inTempDir('mwlake-dump-cli-', async (dir) => {
    const warehouse = join(dir, 'wh');
    await mergedWarehouseAt(warehouse, 1, 5);
    const run = async (...format: string[]): Promise<string> => {
      let err = '';
      const terminal = Object.assign(new Writable({ write: (c, _e, done) => ((err += String(c)), done()) }), { isTTY: true, columns: 120 });
      const sink = new Writable({ write: (_c, _e, done) => done() });
      const code = await runCli(['--log-level', 'silent', ...format, 'dump', '--warehouse', warehouse, '--job-name', 'j', '--dumps-root', join(dir, `dumps${format.length}`), '--date', '2026-11-02', '--wiki', 'enwiki'], { stdout: sink, stderr: terminal, env: {} });
      assert.equal(code, 0, err);
      return err;
    };
    assert.match(await run(), /\r\x1b\[2K/, 'drawn on a terminal');
    assert.doesNotMatch(await run('--log-format', 'json'), /\r\x1b\[2K/);
  });
});

test('a wiki the namespace map lacks fails alone: the other wikis are dumped, the result printed, and the run exits 65 naming it', { timeout: 120_000 }, async () => {
  await inTempDir('mwlake-dump-cli-', async (dir) => {
    const warehouse = join(dir, 'wh');
    await mergedWarehouseAt(warehouse, 1, 5);
    const dumps = join(dir, 'dumps');
    // Sorted before the mapped wiki, as a new wiki may be: it must not stop the wikis after it.
    const r = await cli('dump', '--warehouse', warehouse, '--job-name', 'j', '--dumps-root', dumps, '--date', '2026-11-02', '--wiki', 'aaawiki,enwiki');
    assert.equal(r.code, ExitCode.Data, r.err);
    assert.match(r.err, /the dumps of aaawiki were not written \(the namespace map .* has no line for wiki "aaawiki": check the wiki id, or point dumps\.namespace_map in the job file at a map that has it\); the run went on with the other 1 wiki/);
    const printed = JSON.parse(r.out) as { results: { wiki: string; files: number; failed?: string }[] };
    assert.deepEqual(printed.results.map((x) => [x.wiki, x.failed === undefined, x.files > 0]), [['aaawiki', false, false], ['enwiki', true, true]]);
    assert.deepEqual(await readdir(dumps), ['enwiki', 'other']);
    assert.deepEqual(await readdir(join(dumps, 'other', 'incr')), ['enwiki'], 'adds-changes of the mapped wiki only');
    assert.match(await readFile(join(dumps, 'enwiki', '20261102', 'dumpstatus.json'), 'utf8'), /"status": ?"done"/);
    // Never written, it has no dump dates: status names it with the map that lacks it.
    const job = join(dir, 'job.yaml');
    await writeFile(job, `job_name: j\nwarehouse: ${warehouse}\nkafka:\n  brokers: [127.0.0.1:9]\n  topics: [t]\ndumps:\n  root: ${dumps}\n  wikis: [aaawiki, enwiki]\n`);
    const status = await cli('status', '--config', job);
    assert.equal(status.code, ExitCode.Unavailable, status.err);
    assert.match(status.out, /\n  enwiki: 1 dates, newest 2026-11-02.*\n  not dumped, the namespace map \S+namespace_map\.json\.gz has no line for them: aaawiki\n/);
    const json = JSON.parse((await cli('status', '--config', job, '--json')).out) as { namespaceMap: unknown };
    assert.deepEqual(json.namespaceMap, { path: fileURLToPath(new URL('../../../jobs/siteinfo/namespace_map.json.gz', import.meta.url)), unmapped: ['aaawiki'] });
    // A map the dumps would refuse whole (another shape) is reported as such, not as lacking wikis.
    const array = join(dir, 'map.json');
    await writeFile(array, '[{"dbname":"enwiki"}, {"dbname":"aaawiki"}]\n');
    await writeFile(job, `${await readFile(job, 'utf8')}  namespace_map: ${array}\n`);
    const refused = JSON.parse((await cli('status', '--config', job, '--json')).out) as { namespaceMap: { error?: string } };
    assert.match(refused.namespaceMap.error ?? '', /map\.json:1 is not a namespace map line/);
  });
});

test('a dump before any merge fails (65) instead of publishing empty dumps for the wikis named; its dry run says so too', async () => {
  await inTempDir('mwlake-dump-cli-', async (dir) => {
    const warehouse = join(dir, 'wh');
    await mkdir(warehouse);
    for (const args of [['--wiki', 'enwiki'], ['--wiki', 'all'], ['--wiki', 'enwiki', '--dry-run']]) {
      const r = await cli('dump', '--warehouse', warehouse, '--job-name', 'j', '--dumps-root', join(dir, 'dumps'), '--date', '2026-11-02', ...args);
      assert.equal(r.code, ExitCode.Data, r.err);
      assert.match(r.err, /nothing to dump: no merge has run in .*wh \(state\.pages has no snapshot\); run mwlake merge first/);
    }
    assert.deepEqual(await readdir(dir), ['wh']);
  });
});

test('--jobs is trimmed and skips empty names like --wiki ("metahistorybz2dump,"); an empty one is a usage error', async () => {
  await inTempDir('mwlake-dump-cli-', async (dir) => {
    const warehouse = join(dir, 'wh');
    await mkdir(warehouse);
    const common = ['dump', '--warehouse', warehouse, '--job-name', 'j', '--dumps-root', join(dir, 'dumps'), '--date', '2026-11-02', '--dry-run', '--wiki', 'enwiki'];
    const trailing = await cli(...common, '--jobs', 'metahistorybz2dump, ');
    assert.equal(trailing.code, ExitCode.Data, trailing.err);
    assert.match(trailing.err, /nothing to dump/);
    for (const empty of ['', ' , ']) {
      const r = await cli(...common, '--jobs', empty);
      assert.equal(r.code, ExitCode.Usage, r.err);
      assert.match(r.err, /--jobs takes dump job names separated by commas/);
    }
  });
});

test('a dumps.namespace_map the job file points at that does not exist is a configuration error (78) naming it', async () => {
  await inTempDir('mwlake-dump-cli-', async (dir) => {
    const warehouse = join(dir, 'wh');
    await mkdir(warehouse);
    const job = join(dir, 'job.yaml');
    await writeFile(job, `job_name: j\nwarehouse: wh\ndumps:\n  root: dumps\n  namespace_map: maps/missing.json.gz\n`);
    const r = await cli('dump', '--config', job, '--date', '2026-11-02', '--dry-run', '--wiki', 'enwiki');
    assert.equal(r.code, ExitCode.Config, r.err);
    assert.match(r.err, /dumps\.namespace_map: .*maps\/missing\.json\.gz cannot be read \(ENOENT\)/);
  });
});

test('a dump after a drain without its merge warns naming the unmerged events and saying to merge; status lists them; --due dumps what nightly would and relinks latest/', { timeout: 120_000 }, async () => {
  await inTempDir('mwlake-dump-cli-', async (dir) => {
    const wh = join(dir, 'wh');
    const warehouse = warehouseAt(wh);
    const events = generatedEvents(3, 60);
    await appendBatch(warehouse, events.slice(0, 30));
    await merge(warehouse);
    await appendBatch(warehouse, events.slice(30));
    const flags = ['--warehouse', wh, '--job-name', 'j'];
    // In a child process: the warning is a log line on stderr, as cron and Airflow see it.
    const main = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');
    const dump = spawnSync(process.execPath, [main, '--log-format', 'json', 'dump', ...flags, '--dumps-root', join(dir, 'dumps'), '--date', '2026-11-02', '--wiki', 'enwiki'], { encoding: 'utf8' });
    assert.equal(dump.status, ExitCode.Ok, dump.stderr);
    const warned = dump.stderr.split('\n').filter((l) => l.includes('"level":40'));
    assert.equal(warned.length, 1, dump.stderr);
    assert.match(warned[0]!, /dump: events\.page_content_change holds 30 events in 1 snapshot not merged yet \(merged up to snapshot \d+, current \d+\); .*run mwlake merge first/);
    const status = await cli('status', ...flags, '--brokers', '127.0.0.1:9', '--dumps-root', join(dir, 'dumps'));
    // No broker there: the whole status is printed, and the exit says Kafka could not be asked.
    assert.equal(status.code, ExitCode.Unavailable, status.err);
    assert.match(status.err, /status: the Kafka lag could not be read \(the rest of the status is printed\)/);
    assert.match(status.out, /\nkafka: unavailable: /);
    assert.match(status.out, /\nmerge:\n  events\.page_content_change holds 30 events in 1 snapshot not merged yet .*: run mwlake merge\n/);
    assert.ok(status.out.includes(`\ndumps under ${join(dir, 'dumps')}:\n  enwiki: `), status.out);
    // A mistyped root says so instead of looking like a job with no dumps yet.
    const typo = await cli('status', ...flags, '--brokers', '127.0.0.1:9', '--dumps-root', join(dir, 'dumsp'));
    assert.ok(typo.out.endsWith(`\ndumps under ${join(dir, 'dumsp')}:\n  none (no such folder)\n`), typo.out);
    await merge(warehouse);
    const after = await cli('status', ...flags, '--brokers', '127.0.0.1:9', '--dumps-root', join(dir, 'dumps'), '--json');
    assert.equal(after.code, ExitCode.Unavailable, after.err);
    assert.deepEqual((JSON.parse(after.out) as { unmerged: unknown[] }).unmerged, []);
    const clean = spawnSync(process.execPath, [main, '--log-format', 'json', 'dump', ...flags, '--dumps-root', join(dir, 'dumps'), '--date', '2026-11-02', '--wiki', 'enwiki'], { encoding: 'utf8' });
    assert.equal(clean.status, ExitCode.Ok, clean.stderr);
    assert.doesNotMatch(clean.stderr, /"level":40/);
    // A wiki of the namespace map the state holds nothing of: dumped empty, with a warning naming the wikis it holds.
    const empty = spawnSync(process.execPath, [main, '--log-format', 'json', 'dump', ...flags, '--dumps-root', join(dir, 'dumps'), '--date', '2026-11-02', '--wiki', 'jawiki'], { encoding: 'utf8' });
    assert.equal(empty.status, ExitCode.Ok, empty.stderr);
    assert.match(empty.stderr, /dump: the state holds no pages of jawiki, so its dumps are empty; the state holds [a-z, ]*enwiki/);

    // --due dumps what nightly would: a date whose run did not complete, and the dates after the
    // newest folder up to yesterday (the real clock: folders are made around it).
    const day = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
    const folder = (d: string) => join(dir, 'dumps', 'enwiki', d.replaceAll('-', ''));
    const done = await readFile(join(dir, 'dumps', 'enwiki', '20261102', 'dumpstatus.json'), 'utf8');
    await mkdir(folder(day(3)), { recursive: true });
    await writeFile(join(folder(day(3)), 'dumpstatus.json'), done);
    await mkdir(folder(day(2)), { recursive: true });
    await writeFile(join(folder(day(2)), 'dumpstatus.json'), done.replaceAll('"done"', '"failed"'));
    const due = await cli('dump', ...flags, '--dumps-root', join(dir, 'dumps'), '--wiki', 'enwiki', '--due');
    assert.equal(due.code, ExitCode.Ok, due.err);
    const printed = JSON.parse(due.out) as { dates: string[]; results: { wiki: string; date: string; kept?: boolean }[] };
    assert.deepEqual(printed.dates, [day(2), day(1)]);
    assert.deepEqual(printed.results.map((r) => `${r.wiki} ${r.date}${r.kept === true ? ' kept' : ''}`), [`enwiki ${day(2)}`, `enwiki ${day(1)}`]);
    assert.ok((await readFile(join(folder(day(2)), 'dumpstatus.json'), 'utf8')).includes('"done"'));
    const again = await cli('dump', ...flags, '--dumps-root', join(dir, 'dumps'), '--wiki', 'enwiki', '--due');
    assert.equal(again.code, ExitCode.Ok, again.err);
    assert.deepEqual((JSON.parse(again.out) as { dates: string[] }).dates, [], 'nothing is due the second time');
    // A run killed while linking left a latest/ link at an older run: the next run relinks it, also with nothing due.
    const link = join(dir, 'dumps', 'enwiki', 'latest', 'enwiki-latest-pages-meta-history.xml.bz2');
    const newest = await readlink(link);
    assert.ok(newest.startsWith(`../${day(1).replaceAll('-', '')}/`), newest);
    await rm(link);
    await symlink('../20261102/enwiki-20261102-pages-meta-history.xml.bz2', link);
    const relinked = await cli('dump', ...flags, '--dumps-root', join(dir, 'dumps'), '--wiki', 'enwiki', '--due');
    assert.equal(relinked.code, ExitCode.Ok, relinked.err);
    assert.equal(await readlink(link), newest);
    for (const extra of [['--date', day(1)], ['--from', day(2), '--to', day(1)]]) {
      const both = await cli('dump', ...flags, '--dumps-root', join(dir, 'dumps'), '--due', ...extra);
      assert.equal(both.code, ExitCode.Usage, both.err);
      assert.match(both.err, /give --date D, or --from D1 --to D2, or --due/);
    }
  });
});

test('dump --date reads only the state tables: an events table it cannot read is warned about, not fatal; --due, which needs it, fails', { timeout: 120_000 }, async () => {
  await inTempDir('mwlake-dump-cli-', async (dir) => {
    const wh = join(dir, 'wh');
    await mergedWarehouseAt(wh, 5, 60);
    await garbleEventsMetadata(wh);
    const flags = ['--warehouse', wh, '--job-name', 'j', '--dumps-root', join(dir, 'dumps'), '--wiki', 'enwiki'];
    const dated = await cli('dump', ...flags, '--date', '2026-11-20', '--jobs', 'metahistorybz2dump');
    assert.equal(dated.code, ExitCode.Ok, dated.err);
    assert.ok((await readdir(join(dir, 'dumps', 'enwiki', '20261120'))).some((name) => name.includes('pages-meta-history')));
    const due = await cli('dump', ...flags, '--due');
    assert.equal(due.code, ExitCode.Data, due.err);
  });
});

test('dumps.incr_delay_hours moves the adds-changes cutoff back: maxrevid is the newest revision that many hours before the day ends', { timeout: 120_000 }, async () => {
  await inTempDir('mwlake-dump-cli-', async (dir) => {
    await mergedWarehouseAt(join(dir, 'wh'), 5, 200);
    const newestBefore = async (iso: string) => {
      const r = await cli('query', '--warehouse', join(dir, 'wh'), `SELECT revision_id FROM revisions WHERE wiki_id = 'enwiki' AND revision_dt < TIMESTAMPTZ '${iso}' ORDER BY revision_dt DESC, revision_id DESC LIMIT 1`);
      return Number(Object.values(JSON.parse(r.out.trim()) as object)[0]);
    };
    const maxRevisionIds: number[] = [];
    for (const delay of [0, 12]) {
      const job = join(dir, `job-${delay}.yaml`);
      await writeFile(job, `job_name: j\nwarehouse: wh\ndumps:\n  root: dumps-${delay}\n  incr_delay_hours: ${delay}\n`);
      const r = await cli('dump', '--config', job, '--date', '2026-11-02', '--wiki', 'enwiki', '--jobs', 'metahistorybz2dump');
      assert.equal(r.code, ExitCode.Ok, r.err);
      const maxrevid = await readFile(join(dir, `dumps-${delay}`, 'other', 'incr', 'enwiki', '20261102', 'maxrevid.txt'), 'utf8');
      maxRevisionIds.push(Number(maxrevid.trim()));
    }
    assert.deepEqual(maxRevisionIds, [await newestBefore('2026-11-02 00:00:00+00'), await newestBefore('2026-11-01 12:00:00+00')]);
    assert.notEqual(maxRevisionIds[0], maxRevisionIds[1], 'the day has revisions after noon');
  });
});
