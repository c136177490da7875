// Which dump dates nightly counts as done: dumpRuns reads each run folder's dumpstatus.json and the
// status of its adds-changes run. And what a dump reads: the state tables, not the events table.

import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { ExitCode } from '../../src/core/exit-codes.js';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDumpStatus, renderDumpStatus } from '../../src/dumps/dump-status.js';
import { loadConfig } from '../../src/pipeline/config.js';
import { dumpRuns, relinkNewestRuns, runDumps, type DumpDateResult } from '../../src/pipeline/dump.js';
import { silentLogger } from '../../src/core/log.js';
import { JobError } from '../../src/core/errors.js';
import { Warehouse } from '../../src/iceberg/catalog.js';
import { rollbackTo } from '../../src/iceberg/commit/rollback.js';
import { openStateTable, PAGES_TABLE, REVISIONS_TABLE, STATE_NAMESPACE } from '../../src/merge/state-schema.js';
import { stateViewStatements } from '../../src/pipeline/state-views.js';
import { stateWikis } from '../../src/pipeline/state-wikis.js';
import { runCliCaptured } from '../helpers/cli.js';
import { inTempDir } from '../helpers/temp-dir.js';
import { appendBatch, EVENTS_NAME, EVENTS_NS, garbleEventsMetadata, generatedEvents, merge, mergedWarehouseAt, warehouseAt } from '../merge/merge-fixture.js';

test('a date whose full set completed but whose adds-changes run was killed is not complete, so the next night runs it; one without adds-changes is; a folder of eight digits that is no date is no run', async () => {
  await inTempDir('mwlake-dump-runs-', async (dir) => {
    const root = join(dir, 'dumps');
    const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'j', MWLAKE_WAREHOUSE: join(dir, 'wh'), MWLAKE_DUMPS_ROOT: root });
    const done = renderDumpStatus('enwiki', '20261101', [['metahistorybz2dump', { status: 'done', updated: '2026-11-02 02:10:00', files: [] }]]);
    // Folders of eight digits that are no date are not runs: nightly computed its next date from them.
    for (const stray of ['20261399', '00000000']) await mkdir(join(root, 'enwiki', stray), { recursive: true });
    for (const date of ['20261101', '20261102', '20261103']) {
      await mkdir(join(root, 'enwiki', date), { recursive: true });
      await writeFile(join(root, 'enwiki', date, 'dumpstatus.json'), done);
    }
    // 1st: no adds-changes run (dumped before there were any); 2nd: killed, no status.txt; 3rd: done.
    await mkdir(join(root, 'other', 'incr', 'enwiki', '20261102'), { recursive: true });
    await mkdir(join(root, 'other', 'incr', 'enwiki', '20261103'), { recursive: true });
    await writeFile(join(root, 'other', 'incr', 'enwiki', '20261103', 'status.txt'), 'done');
    assert.deepEqual(
      (await dumpRuns(config)).map((r) => [r.date, r.complete]),
      [['2026-11-01', true], ['2026-11-02', false], ['2026-11-03', true]],
    );
  });
});

/** `<dir>/wh` with `events` generated events merged, and a job config dumping to `<dir>/dumps`. */
async function mergedWarehouse(dir: string, events: number) {
  const wh = await mergedWarehouseAt(join(dir, 'wh'), 5, events);
  const root = join(dir, 'dumps');
  const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'j', MWLAKE_WAREHOUSE: join(dir, 'wh'), MWLAKE_DUMPS_ROOT: root });
  return { wh, root, config };
}

test('a run that stops after its full set completed, before its adds-changes run started (here: latest/ cannot be linked), keeps its date due', { timeout: 120_000 }, async () => {
  await inTempDir('mwlake-dump-runs-', async (dir) => {
    const { wh, root, config } = await mergedWarehouse(dir, 60);
    // A file where latest/ goes: linking fails once every job is done, as a kill while linking would stop it.
    await mkdir(join(root, 'enwiki'), { recursive: true });
    await writeFile(join(root, 'enwiki', 'latest'), '');
    await assert.rejects(runDumps({ config, warehouse: wh, logger: silentLogger(), wikis: ['enwiki'], dates: ['2026-11-20'] }));
    assert.ok(await stat(join(root, 'enwiki', '20261120', 'dumpstatus.json')), 'the full set ran');
    assert.deepEqual((await dumpRuns(config)).map((r) => [r.date, r.complete]), [['2026-11-20', false]], 'its adds-changes never ran: the date stays due');
  });
});

test('a dump reads the state tables only: an events table it cannot read (here its metadata is garbage) does not stop it', { timeout: 120_000 }, async () => {
  await inTempDir('mwlake-dump-runs-', async (dir) => {
    const { wh, config } = await mergedWarehouse(dir, 60);
    await garbleEventsMetadata(join(dir, 'wh'));
    const [result] = await runDumps({ config, warehouse: wh, logger: silentLogger(), wikis: ['enwiki'], dates: ['2026-11-20'], jobs: ['metahistorybz2dump'] });
    assert.ok(result!.bytes > 0, 'the history was written');
  });
});

test('a due date (keepComplete) is passed by on a wiki with a newer run and none of it (keep_runs removed it), not dumped again each night another wiki\'s run of it stays incomplete', { timeout: 120_000 }, async () => {
  await inTempDir('mwlake-dump-runs-', async (dir) => {
    const { wh, root, config: loaded } = await mergedWarehouse(dir, 60);
    // The wikis dumped are named by the run (dump --due --wiki), not by the job file's list.
    const config = { ...loaded, dumps: { ...loaded.dumps, wikis: ['frwiki'] } };
    const dump = (wikis: string[], dates: string[], keepComplete?: true) => runDumps({ config, warehouse: wh, logger: silentLogger(), wikis, dates, ...(keepComplete === undefined ? {} : { keepComplete }) });
    await dump(['enwiki'], ['2026-11-21']);
    await dump(['dewiki'], ['2026-11-20']);
    const status = join(root, 'dewiki', '20261120', 'dumpstatus.json');
    await writeFile(status, (await readFile(status, 'utf8')).replaceAll('"done"', '"failed"'));
    const results = await dump(['enwiki', 'dewiki'], ['2026-11-20'], true);
    assert.deepEqual(results.map((r) => [r.wiki, r.date, r.notDue ?? false, r.files > 0]), [['enwiki', '2026-11-20', true, false], ['dewiki', '2026-11-20', false, true]]);
    for (const folder of [join(root, 'enwiki', '20261120'), join(root, 'other', 'incr', 'enwiki', '20261120')]) assert.equal(await stat(folder).catch(() => undefined), undefined, folder);
    assert.deepEqual((await dumpRuns(loaded)).map((r) => [r.wiki, r.date, r.complete]), [['dewiki', '2026-11-20', true], ['enwiki', '2026-11-21', true]]);
    // Asked for by date (no keepComplete), it is dumped.
    assert.equal((await dump(['enwiki'], ['2026-11-20']))[0]!.notDue, undefined);
    assert.ok(await stat(join(root, 'enwiki', '20261120', 'dumpstatus.json')));
  });
});

test('a recombine job over several wikis and dates passes by those where it has nothing to recombine, writing nothing there; nowhere to recombine, or one wiki and date with nothing, is refused (64) before anything is written; a kept date (--due) still gets its adds-changes', { timeout: 300_000 }, async () => {
  await inTempDir('mwlake-dump-runs-recombine-', async (dir) => {
    const { wh, root, config: loaded } = await mergedWarehouse(dir, 1500);
    // 1 MiB parts: enwiki's multistream splits, dewiki's does not.
    const config = { ...loaded, dumps: { ...loaded.dumps, partSizeMb: 1 } };
    const dump = (o: { wikis: readonly string[] | 'all'; dates: string[]; jobs?: string[]; dryRun?: boolean; keepComplete?: boolean }) => runDumps({ config, warehouse: wh, logger: silentLogger(), ...o });
    await dump({ wikis: 'all', dates: ['2026-11-20'] });
    const status = async (wiki: string) => parseDumpStatus(await readFile(join(root, wiki, '20261120', 'dumpstatus.json'), 'utf8'))!;
    const job = 'articlesmultistreamdumprecombine';
    assert.equal((await status('enwiki')).get(job)?.status, 'done', 'enwiki split at part_size_mb');
    assert.equal((await status('dewiki')).has(job), false, 'dewiki did not split');
    const recombined = join(root, 'enwiki', '20261120', 'enwiki-20261120-pages-articles-multistream.xml.bz2');
    const written = await readFile(recombined);
    await rm(recombined);

    const both = { wikis: 'all' as const, dates: ['2026-11-20', '2026-11-21'], jobs: [job] };
    const expected = [
      ['dewiki', '2026-11-20', [job]],
      ['dewiki', '2026-11-21', [job]],
      ['enwiki', '2026-11-20', 'ran'],
      ['enwiki', '2026-11-21', [job]],
    ];
    const outcome = (results: readonly DumpDateResult[]) => results.map((r) => [r.wiki, r.date, r.passedBy ?? 'ran']);
    assert.deepEqual(outcome(await dump({ ...both, dryRun: true })), expected, 'a dry run says what would pass by');
    // Other jobs chosen with it still run where it passes by: nothing to refuse, also in a dry run.
    const mixed = await dump({ wikis: 'all', dates: ['2026-11-21'], jobs: ['pagetitlesdump', job], dryRun: true });
    assert.deepEqual(outcome(mixed), [['dewiki', '2026-11-21', [job]], ['enwiki', '2026-11-21', [job]]]);
    assert.deepEqual(outcome(await dump(both)), expected);
    assert.ok((await readFile(recombined)).equals(written), 'enwiki recombined again, byte for byte');
    const absent = async (path: string) => assert.equal(await stat(path).catch(() => undefined), undefined, path);
    for (const wiki of ['enwiki', 'dewiki']) {
      await absent(join(root, wiki, '20261121'));
      await absent(join(root, 'other', 'incr', wiki, '20261121'));
    }

    const refused = (pattern: RegExp) => (error: Error & { code?: string }) => error.code === 'USAGE' && pattern.test(error.message);
    await assert.rejects(dump({ wikis: 'all', dates: ['2026-11-21'], jobs: [job] }), refused(/^nothing to run in any of the 2 wiki and date runs chosen, each passed by for nothing to recombine, kept complete or not due for its wiki; the first passed by: dump job articlesmultistreamdumprecombine recombines the parts of articlesmultistreamdump, which is not done on dewiki 20261121: there is nothing to recombine \(run articlesmultistreamdump/));
    await assert.rejects(dump({ wikis: ['dewiki'], dates: ['2026-11-21'], jobs: [job] }), refused(/which is not done on dewiki 20261121/));
    await absent(join(root, 'dewiki', '20261121'));
    await absent(join(root, 'other', 'incr', 'dewiki', '20261121'));
    // A complete date dumped before adds-changes existed (no folder) stays complete after a refusal.
    await rm(join(root, 'other', 'incr', 'dewiki', '20261120'), { recursive: true });
    await assert.rejects(dump({ wikis: ['dewiki'], dates: ['2026-11-20'], jobs: [job] }), refused(/which did not split on dewiki 20261120: there is nothing to recombine \(its output fit in one file; a job writes parts only past dumps\.part_size_mb of XML\)/));
    await absent(join(root, 'other', 'incr', 'dewiki', '20261120'));
    // So does one refused by the run itself: a kept job's file is missing.
    const kept1 = join(root, 'dewiki', '20261120', (await status('dewiki')).get('articlesdump')!.files[0]!.name);
    await rename(kept1, `${kept1}.away`);
    await assert.rejects(dump({ wikis: ['dewiki'], dates: ['2026-11-20'], jobs: ['metacurrentdump'] }), (error: Error & { code?: string }) => error.code === 'DATA' && /of job articlesdump is missing/.test(error.message));
    await rename(`${kept1}.away`, kept1);
    await absent(join(root, 'other', 'incr', 'dewiki', '20261120'));
    // One that fails after recording its job keeps the folder: the date is due again.
    const current = join(root, 'dewiki', '20261120', (await status('dewiki')).get('metacurrentdump')!.files[0]!.name);
    await rm(current);
    await mkdir(join(current, 'in-the-way'), { recursive: true });
    await assert.rejects(dump({ wikis: ['dewiki'], dates: ['2026-11-20'], jobs: ['metacurrentdump'] }));
    assert.equal((await status('dewiki')).get('metacurrentdump')?.status, 'failed');
    assert.ok((await stat(join(root, 'other', 'incr', 'dewiki', '20261120'))).isDirectory(), 'the adds-changes folder stays');
    await rm(current, { recursive: true });
    await dump({ wikis: ['dewiki'], dates: ['2026-11-20'], jobs: ['metacurrentdump'] });
    assert.deepEqual((await dumpRuns(config)).map((r) => [r.wiki, r.date, r.complete]), [['dewiki', '2026-11-20', true], ['enwiki', '2026-11-20', true]]);

    // --due keeps complete dates: their killed adds-changes runs are written whatever the jobs.
    for (const wiki of ['enwiki', 'dewiki']) {
      await mkdir(join(root, 'other', 'incr', wiki, '20261120'), { recursive: true });
      await rm(join(root, 'other', 'incr', wiki, '20261120', 'status.txt'), { force: true });
    }
    // With the next date passed by on both wikis: the kept dates' adds-changes ran, so no 64.
    const kept = await dump({ wikis: 'all', dates: ['2026-11-20', '2026-11-21'], jobs: [job], keepComplete: true });
    assert.deepEqual(kept.map((r) => [r.wiki, r.date, r.kept, r.passedBy]), [['dewiki', '2026-11-20', true, undefined], ['dewiki', '2026-11-21', undefined, [job]], ['enwiki', '2026-11-20', true, undefined], ['enwiki', '2026-11-21', undefined, [job]]]);
    assert.deepEqual((await dumpRuns(config)).map((r) => r.complete), [true, true], 'both adds-changes runs written');
    // Now settled, kept dates have nothing to run: with every other date passed by, nothing ran (64).
    await assert.rejects(dump({ wikis: 'all', dates: ['2026-11-20', '2026-11-21'], jobs: [job], keepComplete: true }), refused(/^nothing to run in any of the 4 wiki and date runs chosen, each passed by for nothing to recombine, kept complete or not due for its wiki/));
  });
});

/** A run folder per date with a one-job pages-meta-history run, its status and the latest/ link, written by hand. */
function handMadeRuns(root: string) {
  const history = (date: string) => `enwiki-${date}-pages-meta-history.xml.bz2`;
  const link = join(root, 'enwiki', 'latest', 'enwiki-latest-pages-meta-history.xml.bz2');
  return {
    history,
    link,
    async make(dates: readonly string[]): Promise<void> {
      for (const date of dates) {
        await mkdir(join(root, 'enwiki', date), { recursive: true });
        await writeFile(join(root, 'enwiki', date, history(date)), 'x');
      }
    },
    async status(date: string, state: 'done' | 'in-progress'): Promise<void> {
      const files = state === 'done' ? [{ name: history(date), sizeBytes: 1, md5: '0'.repeat(32), sha1: '0'.repeat(40) }] : [];
      await writeFile(join(root, 'enwiki', date, 'dumpstatus.json'), renderDumpStatus('enwiki', date, [['metahistorybz2dump', { status: state, updated: '2026-11-02 02:10:00', files }]]));
    },
    /** An adds-changes run that was killed (its folder, no status.txt). */
    async killedIncremental(date: string): Promise<void> {
      await mkdir(join(root, 'other', 'incr', 'enwiki', date), { recursive: true });
    },
    async linkTo(date: string): Promise<void> {
      await mkdir(join(root, 'enwiki', 'latest'), { recursive: true });
      await rm(link, { force: true });
      await symlink(`../${date}/${history(date)}`, link);
    },
    async linked(): Promise<string> {
      return readlink(link);
    },
  };
}

test('each night gives latest/ back to the newest complete run when a newer run was killed regenerating its date; a newer full set whose adds-changes alone is unsettled keeps it', async () => {
  await inTempDir('mwlake-dump-runs-', async (dir) => {
    const root = join(dir, 'dumps');
    const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'j', MWLAKE_WAREHOUSE: join(dir, 'wh'), MWLAKE_DUMPS_ROOT: root });
    const runs = handMadeRuns(root);
    await runs.make(['20261101', '20261102']);
    await runs.status('20261101', 'done');
    await runs.linkTo('20261102');
    // 20261102 was complete and linked; its regeneration was killed, so its status says in-progress.
    await runs.status('20261102', 'in-progress');
    await relinkNewestRuns(config);
    assert.equal(await runs.linked(), '../20261101/' + runs.history('20261101'));
    // Complete, but its adds-changes run was killed: not settled, yet its full set stays linked.
    await runs.status('20261102', 'done');
    await runs.killedIncremental('20261102');
    await runs.linkTo('20261102');
    await relinkNewestRuns(config);
    assert.equal(await runs.linked(), '../20261102/' + runs.history('20261102'));
  });
});

test('a killed newer run gives latest/ to the newest complete run, also one whose adds-changes alone is unsettled', async () => {
  await inTempDir('mwlake-dump-runs-', async (dir) => {
    const root = join(dir, 'dumps');
    const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'j', MWLAKE_WAREHOUSE: join(dir, 'wh'), MWLAKE_DUMPS_ROOT: root });
    const runs = handMadeRuns(root);
    await runs.make(['20261101', '20261102', '20261103']);
    await runs.status('20261101', 'done');
    // 20261102 regenerated (an old date): its full set complete, its adds-changes killed.
    await runs.status('20261102', 'done');
    await runs.killedIncremental('20261102');
    // 20261103 was complete and linked; its regeneration was killed.
    await runs.status('20261103', 'in-progress');
    await runs.linkTo('20261103');
    await relinkNewestRuns(config);
    assert.equal(await runs.linked(), '../20261102/' + runs.history('20261102'), 'the newest complete run, not an older one');
  });
});

test('a dump of a half-finished merge (state.revisions merged further than state.pages) is refused, naming both, instead of publishing what the newer events hid', { timeout: 120_000 }, async () => {
  await inTempDir('mwlake-dump-runs-', async (dir) => {
    const { wh, root, config } = await mergedWarehouse(dir, 60);
    await appendBatch(wh, generatedEvents(6, 40));
    await merge(wh);
    // As a merge that committed state.revisions and then failed: state.pages one merge behind.
    await rollbackTo(await wh.loadTable(STATE_NAMESPACE, PAGES_TABLE));
    await assert.rejects(
      runDumps({ config, warehouse: wh, logger: silentLogger(), wikis: ['enwiki'], dates: ['2026-11-20'] }),
      (e: unknown) => e instanceof JobError && e.code === 'DATA' && /state\.revisions is merged up to events snapshot \d+, state\.pages only up to \d+ .*Run `mwlake merge`/.test(e.message),
    );
    assert.deepEqual(await readdir(root).catch(() => []), [], 'nothing written');
    // Queries still read the older pair both hold.
    const { bound } = await stateViewStatements(wh, { namespace: EVENTS_NS, name: EVENTS_NAME });
    assert.ok(bound.revisionsAheadOf !== undefined && bound.revisions !== undefined);
  });
});

test('a dump that reads state.pages while a merge is between its two commits reads both again, and dumps the merge', { timeout: 120_000 }, async () => {
  await inTempDir('mwlake-dump-runs-', async (dir) => {
    const { wh, config } = await mergedWarehouse(dir, 60);
    const stalePages = await wh.loadTable(STATE_NAMESPACE, PAGES_TABLE);
    await appendBatch(wh, generatedEvents(6, 40));
    await merge(wh);
    // The first read of state.pages is from before the merge committed it; later reads after.
    let pagesReads = 0;
    class Racing extends Warehouse {
      override async tryLoadTable(namespace: string, name: string) {
        if (namespace === STATE_NAMESPACE && name === PAGES_TABLE && pagesReads++ === 0) return stalePages;
        return super.tryLoadTable(namespace, name);
      }
    }
    const [result] = await runDumps({ config, warehouse: new Racing(wh.storage, wh.rootLocation), logger: silentLogger(), wikis: ['enwiki'], dates: ['2026-11-20'], jobs: ['metahistorybz2dump'] });
    assert.ok(result!.bytes > 0);
    assert.ok(pagesReads >= 2, 'state.pages was read again');
  });
});

test('the views read state.pages before state.revisions: a merge landing between the two reads still pairs them', { timeout: 120_000 }, async () => {
  await inTempDir('mwlake-dump-runs-', async (dir) => {
    const { wh } = await mergedWarehouse(dir, 60);
    const stale = await wh.loadTable(STATE_NAMESPACE, REVISIONS_TABLE);
    await appendBatch(wh, generatedEvents(6, 40));
    await merge(wh);
    // Revisions read before pages' read finished see the table from before the merge.
    let pagesRead = false;
    class Racing extends Warehouse {
      override async tryLoadTable(namespace: string, name: string) {
        if (namespace === STATE_NAMESPACE && name === REVISIONS_TABLE && !pagesRead) return stale;
        const table = await super.tryLoadTable(namespace, name);
        if (namespace === STATE_NAMESPACE && name === PAGES_TABLE) pagesRead = true;
        return table;
      }
    }
    const { bound } = await stateViewStatements(new Racing(wh.storage, wh.rootLocation), { namespace: EVENTS_NS, name: EVENTS_NAME });
    assert.equal(bound.revisions, (await wh.loadTable(STATE_NAMESPACE, REVISIONS_TABLE)).currentSnapshot()!.snapshotId.toString());
    assert.equal(bound.revisionsAheadOf, undefined);
  });
});

test('the wikis of a dump are those of the pages snapshot its views bound, not of a merge since', { timeout: 120_000 }, async () => {
  await inTempDir('mwlake-dump-runs-', async (dir) => {
    const wh = warehouseAt(join(dir, 'wh'));
    const events = generatedEvents(5, 120);
    await appendBatch(wh, events.filter((e) => e.wiki_id === 'enwiki'));
    await merge(wh);
    const first = (await wh.loadTable(STATE_NAMESPACE, PAGES_TABLE)).currentSnapshot()!.snapshotId;
    await appendBatch(wh, events.filter((e) => e.wiki_id === 'dewiki'));
    await merge(wh);
    assert.deepEqual(await stateWikis(wh, { snapshotId: first }), ['enwiki']);
    assert.deepEqual(await stateWikis(wh), ['dewiki', 'enwiki']);
    await assert.rejects(stateWikis(wh, { snapshotId: 1n }), (e: unknown) => e instanceof JobError && e.code === 'NOT_FOUND');
  });
});

test('state tables a first merge created but stopped before committing hold no wikis: status, dump and maintain say no merge has run, not that a snapshot expired', { timeout: 120_000 }, async () => {
  await inTempDir('mwlake-dump-runs-', async (dir) => {
    const wh = warehouseAt(join(dir, 'wh'));
    // What a first merge leaves when it stops before its commit: both tables, no snapshot.
    await openStateTable(wh, PAGES_TABLE);
    await openStateTable(wh, REVISIONS_TABLE);
    assert.deepEqual(await stateWikis(wh), []);
    const job = join(dir, 'job.yaml');
    await writeFile(job, `job_name: j\nwarehouse: ${join(dir, 'wh')}\ndumps:\n  root: ${join(dir, 'dumps')}\n  wikis: all\n  keep_runs: 1\n`);
    // No topic on this broker: the lag fails the command (69), after the rest is printed.
    const status = await runCliCaptured(['status', '--config', job, '--json', '--brokers', '127.0.0.1:9']);
    assert.doesNotMatch(status.err, /snapshot/, status.err);
    assert.deepEqual((JSON.parse(status.out) as { dumps: unknown }).dumps, {});
    const dump = await runCliCaptured(['dump', '--config', job, '--date', '2026-11-01']);
    assert.equal(dump.code, ExitCode.Data, dump.err);
    assert.match(dump.err, /no merge has run/);
    const maintain = await runCliCaptured(['maintain', '--config', job]);
    assert.equal(maintain.code, ExitCode.Ok, maintain.err);
  });
});
