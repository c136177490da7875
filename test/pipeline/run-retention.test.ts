// dumps.keep_runs: which runs maintenance removes (runRetention), and that it removes them whole,
// with their adds-changes, leaving latest/ and the dates nightly still owes alone.

import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderDumpStatus } from '../../src/dumps/dump-status.js';
import { silentLogger } from '../../src/core/log.js';
import { JobError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-codes.js';
import { loadConfig } from '../../src/pipeline/config.js';
import { dueDates } from '../../src/pipeline/due-dates.js';
import { dumpRuns, removeOldRuns, runRetention, type DumpRun } from '../../src/pipeline/dump.js';
import { runCliCaptured } from '../helpers/cli.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { inTempDir } from '../helpers/temp-dir.js';
import { warehouseAt } from '../merge/merge-fixture.js';

const run = (wiki: string, day: number, complete = true): DumpRun => ({ wiki, date: `2026-11-${String(day).padStart(2, '0')}`, complete });
const names = (runs: readonly DumpRun[]) => runs.map((r) => `${r.wiki}/${r.date.slice(-2)}`);

test('runRetention: per wiki, complete runs older than the newest N complete ones, up to the run before the oldest run that did not complete', () => {
  const cases: [string, DumpRun[], number, string[], string[]][] = [
    ['all complete', [run('a', 1), run('a', 2), run('a', 3)], 1, ['a/01', 'a/02'], []],
    ['fewer than N', [run('a', 1), run('a', 2)], 3, [], []],
    ['exactly N', [run('a', 1), run('a', 2)], 2, [], []],
    ['N counts complete runs only; a newer one that did not complete is kept', [run('a', 1), run('a', 2), run('a', 3), run('a', 4, false)], 2, ['a/01'], []],
    ['an older one that did not complete holds back the runs from the one before it on', [run('a', 1), run('a', 2), run('a', 3, false), run('a', 4), run('a', 5)], 1, ['a/01'], ['a/03']],
    ['held by the oldest', [run('a', 1, false), run('a', 2), run('a', 3)], 1, [], ['a/01']],
    ['wikis apart, in any order', [run('b', 5), run('a', 3), run('b', 1), run('a', 1), run('b', 3)], 2, ['b/01'], []],
    ['one wiki held by its oldest, the other not', [run('a', 1), run('a', 2), run('a', 3), run('b', 1, false), run('b', 2), run('b', 3)], 1, ['a/01', 'a/02'], ['b/01']],
  ];
  for (const [what, runs, keep, past, heldBy] of cases) {
    const r = runRetention(runs, keep);
    assert.deepEqual(names(r.past), past, what);
    assert.deepEqual(names(r.heldBy), heldBy, what);
  }
});

/** A complete run (dumpstatus.json done, adds-changes done) of enwiki for each day, latest/ linking the newest. */
async function completeRuns(root: string, days: readonly number[]): Promise<void> {
  for (const day of days) {
    const date = `202611${String(day).padStart(2, '0')}`;
    await mkdir(join(root, 'enwiki', date), { recursive: true });
    await writeFile(join(root, 'enwiki', date, `enwiki-${date}-pages-meta-history.xml.bz2`), 'x');
    const file = { name: `enwiki-${date}-pages-meta-history.xml.bz2`, sizeBytes: 1, md5: '9dd4e461268c8034f5c8564e155c67a6', sha1: '11f6ad8ec52a2984abaafd7c3b516503785c2072' };
    await writeFile(join(root, 'enwiki', date, 'dumpstatus.json'), renderDumpStatus('enwiki', date, [['metahistorybz2dump', { status: 'done', updated: '2026-11-30 02:10:00', files: [file] }]]));
    await mkdir(join(root, 'other', 'incr', 'enwiki', date), { recursive: true });
    await writeFile(join(root, 'other', 'incr', 'enwiki', date, 'status.txt'), 'done');
  }
  const newest = `202611${String(days.at(-1)).padStart(2, '0')}`;
  await mkdir(join(root, 'enwiki', 'latest'), { recursive: true });
  await symlink(`../${newest}/enwiki-${newest}-pages-meta-history.xml.bz2`, join(root, 'enwiki', 'latest', 'enwiki-latest-pages-meta-history.xml.bz2'));
}

/** An enwiki job under `dir` keeping `keepRuns` runs, with a complete run for each of `days`. */
async function retentionJob(dir: string, keepRuns: number, days: readonly number[]) {
  const root = join(dir, 'dumps');
  const loaded = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'j', MWLAKE_WAREHOUSE: join(dir, 'wh'), MWLAKE_DUMPS_ROOT: root });
  await completeRuns(root, days);
  return { root, config: { ...loaded, dumps: { ...loaded.dumps, wikis: ['enwiki'], keepRuns } }, warehouse: warehouseAt(join(dir, 'wh')) };
}

test('maintenance removes the runs past dumps.keep_runs with their adds-changes, oldest first; a dry run only lists them; latest/ still resolves', async () => {
  await inTempDir('mwlake-retention-', async (dir) => {
    const { root, config, warehouse } = await retentionJob(dir, 2, [1, 2, 3, 4]);

    const dry = await removeOldRuns(config, warehouse, { logger: silentLogger(), dryRun: true });
    assert.deepEqual(dry, { removed: ['enwiki/2026-11-01', 'enwiki/2026-11-02'] });
    assert.equal((await dumpRuns(config)).length, 4, 'a dry run removes nothing');

    const done = await removeOldRuns(config, warehouse, { logger: silentLogger() });
    assert.deepEqual(done, { removed: ['enwiki/2026-11-01', 'enwiki/2026-11-02'] });
    assert.deepEqual((await readdir(join(root, 'enwiki'))).sort(), ['20261103', '20261104', 'latest']);
    assert.deepEqual((await readdir(join(root, 'other', 'incr', 'enwiki'))).sort(), ['20261103', '20261104']);
    assert.equal(await readFile(join(root, 'enwiki', 'latest', 'enwiki-latest-pages-meta-history.xml.bz2'), 'utf8'), 'x');
    assert.deepEqual(await removeOldRuns(config, warehouse, { logger: silentLogger() }), { removed: [] }, 'nothing more to remove');
    // Unset, nothing is removed.
    assert.equal(await removeOldRuns({ ...config, dumps: { ...config.dumps, keepRuns: undefined } }, warehouse, { logger: silentLogger() }), undefined);
  });
});

test('a run whose lease was taken over stops removing runs: the error is thrown, not counted, and the runs after it stay whole', async () => {
  await inTempDir('mwlake-retention-', async (dir) => {
    const { root, config, warehouse } = await retentionJob(dir, 1, [1, 2, 3]);
    let checks = 0;
    const lost = new JobError('LOCKED', 'job j lost its lease');
    // Checked before latest/ is relinked, then before each removal: lost after the first removal.
    const assertHeld = (): void => {
      if (++checks > 2) throw lost;
    };
    await assert.rejects(removeOldRuns(config, warehouse, { logger: silentLogger(), assertHeld }), (error) => error === lost);
    assert.equal(checks, 3, 'checked before the relink and before each removal');
    assert.deepEqual((await readdir(join(root, 'enwiki'))).sort(), ['20261102', '20261103', 'latest'], 'the first removed, the second kept');
    assert.deepEqual((await readdir(join(root, 'other', 'incr', 'enwiki'))).sort(), ['20261102', '20261103']);
  });
});

test('latest/ left at an older run (a dump killed while linking) is pointed at the newest complete run before that run is removed', async () => {
  await inTempDir('mwlake-retention-', async (dir) => {
    const { root, config, warehouse } = await retentionJob(dir, 1, [1, 2]);
    const link = join(root, 'enwiki', 'latest', 'enwiki-latest-pages-meta-history.xml.bz2');
    await rm(link);
    await symlink('../20261101/enwiki-20261101-pages-meta-history.xml.bz2', link);
    assert.deepEqual(await removeOldRuns(config, warehouse, { logger: silentLogger() }), { removed: ['enwiki/2026-11-01'] });
    assert.equal(await readlink(link), '../20261102/enwiki-20261102-pages-meta-history.xml.bz2');
    assert.equal(await readFile(link, 'utf8'), 'x');
  });
});

test('a removal stopped midway leaves no half-deleted run that nightly would dump again, and the next maintenance finishes it; an older run that did not complete holds removal back and stays due', async () => {
  await inTempDir('mwlake-retention-', async (dir) => {
    const { root, config, warehouse } = await retentionJob(dir, 1, [1, 2, 3, 4, 5, 6]);
    // Stopped after renaming 01's folders away: 01 is no run any more, so not due.
    await rename(join(root, 'other', 'incr', 'enwiki', '20261101'), join(root, 'other', 'incr', 'enwiki', '.removing-20261101'));
    await rename(join(root, 'enwiki', '20261101'), join(root, 'enwiki', '.removing-20261101'));
    // Stopped after removing 02's adds-changes only: 02 is still complete, so not due either.
    await rename(join(root, 'other', 'incr', 'enwiki', '20261102'), join(root, 'other', 'incr', 'enwiki', '.removing-20261102'));
    // 04 did not complete: nightly dumps it again, so it, 03 (where its adds-changes starts) and the runs after it stay.
    await writeFile(join(root, 'enwiki', '20261104', 'dumpstatus.json'), renderDumpStatus('enwiki', '20261104', [['metahistorybz2dump', { status: 'failed', updated: '2026-11-30 02:10:00', files: [] }]]));
    const runs = await dumpRuns(config);
    assert.deepEqual(runs.map((r) => [r.date, r.complete]), [['2026-11-02', true], ['2026-11-03', true], ['2026-11-04', false], ['2026-11-05', true], ['2026-11-06', true]]);
    assert.deepEqual(dueDates(runs, '2026-11-06'), ['2026-11-04']);

    const result = await removeOldRuns(config, warehouse, { logger: silentLogger() });
    assert.deepEqual(result, { removed: ['enwiki/2026-11-02'], heldBy: ['enwiki/2026-11-04'] });
    assert.deepEqual((await readdir(join(root, 'enwiki'))).sort(), ['20261103', '20261104', '20261105', '20261106', 'latest'], 'no leftovers');
    assert.deepEqual((await readdir(join(root, 'other', 'incr', 'enwiki'))).sort(), ['20261103', '20261104', '20261105', '20261106']);
    assert.deepEqual(dueDates(await dumpRuns(config), '2026-11-06'), ['2026-11-04'], 'still due');
  });
});

/** Sets or clears the immutable flag, which refuses even root a rename or a deletion; false where the file system has none. */
const immutable = (path: string, on: boolean): boolean => spawnSync('chattr', [on ? '+i' : '-i', path], { stdio: 'ignore' }).status === 0;

test('a run the file system refuses to rename away stays whole and is warned and counted, as is a removed run folder it refuses to delete; the night does not fail, and the next maintenance finishes both', async (t) => {
  await inTempDir('mwlake-retention-', async (dir) => {
    const { root, config, warehouse } = await retentionJob(dir, 1, [1, 2, 3, 4]);
    // Root is refused an immutable folder's rename, and the deletion of an immutable file.
    const refusedRename = join(root, 'enwiki', '20261102');
    const refusedDelete = join(root, 'enwiki', '20261101', 'enwiki-20261101-pages-meta-history.xml.bz2');
    if (!immutable(refusedRename, true)) return t.skip('chattr +i is not supported here');
    try {
      assert.ok(immutable(refusedDelete, true));
      const { logger, messages } = capturingLogger();
      const result = await removeOldRuns(config, warehouse, { logger });
      // 01 was renamed away (no run any more) but not deleted; 02 could not be renamed, so it and 03 stay.
      assert.deepEqual(result, { removed: ['enwiki/2026-11-01'], notRemoved: 2, leftoversNotDeleted: 1 });
      assert.deepEqual((await readdir(join(root, 'enwiki'))).sort(), ['.removing-20261101', '20261102', '20261103', '20261104', 'latest']);
      assert.deepEqual((await dumpRuns(config)).map((r) => [r.date, r.complete]), [['2026-11-02', true], ['2026-11-03', true], ['2026-11-04', true]], 'the refused run is still complete, so not due');
      const warned = messages();
      assert.ok(warned.some((m) => /enwiki's runs from 2026-11-02 on are kept past dumps\.keep_runs for now: it could not be removed \(.*operation not permitted/i.test(m)), warned.join('\n'));
      assert.ok(warned.some((m) => m.includes(`${join(root, 'enwiki', '.removing-20261101')}, a removed run's folder, could not be deleted`)), warned.join('\n'));
    } finally {
      immutable(refusedDelete.replace('20261101', '.removing-20261101'), false);
      immutable(refusedDelete, false);
      immutable(refusedRename, false);
    }
    assert.deepEqual(await removeOldRuns(config, warehouse, { logger: silentLogger() }), { removed: ['enwiki/2026-11-02', 'enwiki/2026-11-03'] });
    assert.deepEqual((await readdir(join(root, 'enwiki'))).sort(), ['20261104', 'latest']);
    assert.deepEqual((await readdir(join(root, 'other', 'incr', 'enwiki'))).sort(), ['20261104']);
  });
});

test('mwlake maintain applies dumps.keep_runs from the job file under --dumps-root and prints what it removed; keep_runs below 1 is refused (78)', async () => {
  await inTempDir('mwlake-retention-', async (dir) => {
    const root = join(dir, 'elsewhere');
    await mkdir(join(dir, 'wh'));
    await completeRuns(root, [1, 2, 3]);
    const job = join(dir, 'job.yaml');
    await writeFile(job, 'job_name: j\nwarehouse: wh\ndumps:\n  root: dumps\n  wikis: [enwiki]\n  keep_runs: 1\n');
    const r = await runCliCaptured(['maintain', '--config', job, '--dumps-root', root]);
    assert.equal(r.code, ExitCode.Ok, r.err);
    assert.deepEqual((JSON.parse(r.out) as { dumpRuns: unknown }).dumpRuns, { removed: ['enwiki/2026-11-01', 'enwiki/2026-11-02'] });
    await assert.rejects(stat(join(root, 'enwiki', '20261101')), { code: 'ENOENT' });
    await writeFile(job, 'job_name: j\nwarehouse: wh\ndumps:\n  keep_runs: 0\n');
    const refused = await runCliCaptured(['maintain', '--config', job]);
    assert.equal(refused.code, ExitCode.Config, refused.err);
    assert.match(refused.err, /dumps\.keep_runs must be a whole number of at least 1, found 0/);
  });
});
