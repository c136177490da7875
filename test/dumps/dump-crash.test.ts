// A dump run SIGKILLed mid-file, between the parts of an output, between jobs and while linking
// latest/: dumpstatus.json is always whole and says done only of complete files, checksum files
// and latest/ links describe complete files, and the next run ends with the bytes of an
// uninterrupted run.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { relinkCompleteRun, runDump } from '../../src/dumps/dump-run.js';
import { parseDumpStatus } from '../../src/dumps/dump-status.js';
import { IN_PROGRESS_SUFFIX } from '../../src/dumps/file-names.js';
import { CRASH_DATE, CRASH_WIKI, crashRunOptions } from './dump-crash-fixture.js';
import { latestLinks } from './helpers.js';
import { GeneratedDumpSource, type GeneratedWikiOptions } from './generated-source.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'dump-child.js');
const WIKI_A: GeneratedWikiOptions = { pages: 80, revisionsPerPage: 5, textChars: 2000, seed: 42 };
/** The same wiki after another merge: other bytes under the same file names. */
const WIKI_B: GeneratedWikiOptions = { pages: 80, revisionsPerPage: 5, textChars: 2000, seed: 43 };

let dir: string;
const references = new Map<GeneratedWikiOptions, Record<string, string>>();
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-dump-crash-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const md5 = async (path: string) => createHash('md5').update(await readFile(path)).digest('hex');

/** Every file under the root by relative path: its md5, or the target of a link; a feed's without the time it was written (a relink writes it at its own time). */
async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of (await readdir(root, { recursive: true })).sort()) {
    const path = join(root, entry);
    const info = await lstat(path);
    if (info.isSymbolicLink()) out[entry] = `-> ${await readlink(path)}`;
    else if (entry.endsWith('-rss.xml')) out[entry] = createHash('md5').update((await readFile(path, 'utf8')).replace(/<pubDate>[^<]*<\/pubDate>/, '')).digest('hex');
    else if (info.isFile()) out[entry] = await md5(path);
  }
  return out;
}

async function run(root: string, wiki: GeneratedWikiOptions, jobs?: readonly string[]): Promise<void> {
  await runDump(crashRunOptions(root, new GeneratedDumpSource(wiki), jobs));
}

async function uninterrupted(wiki: GeneratedWikiOptions): Promise<Record<string, string>> {
  if (!references.has(wiki)) {
    const root = join(dir, `reference-${wiki.seed}`);
    await run(root, wiki);
    references.set(wiki, await tree(root));
  }
  return references.get(wiki)!;
}

function killAt(root: string, point: string, wiki: GeneratedWikiOptions, jobs?: readonly string[]): void {
  const child = spawnSync(process.execPath, [CHILD, root, point, JSON.stringify(wiki), ...(jobs === undefined ? [] : [JSON.stringify(jobs)])], { encoding: 'utf8' });
  assert.equal(child.signal, 'SIGKILL', `the child was not killed at ${point}: status ${child.status}, stderr ${child.stderr}`);
}

/** What readers of the run folder and latest/ may rely on at any moment. */
async function assertConsistent(root: string, when: string, runs: readonly Record<string, string>[]): Promise<void> {
  const runDir = join(root, CRASH_WIKI, CRASH_DATE);
  const text = await readFile(join(runDir, 'dumpstatus.json'), 'utf8').catch(() => undefined);
  const status = text === undefined ? new Map() : parseDumpStatus(text);
  assert.ok(status !== undefined, `${when}: dumpstatus.json is whole: ${text}`);
  for (const [job, state] of status) {
    if (state.status !== 'done') continue;
    for (const file of state.files) {
      const path = join(runDir, file.name);
      assert.equal((await stat(path).catch(() => undefined))?.size, file.sizeBytes, `${when}: ${job} is done, with ${file.name} of ${file.sizeBytes} bytes`);
      assert.equal(await md5(path), file.md5, `${when}: ${job} is done, with ${file.name} of md5 ${file.md5}`);
    }
  }
  // Checksum files name complete files, with their hashes.
  const listed = new Map<string, string>();
  const sums = await readFile(join(runDir, `${CRASH_WIKI}-${CRASH_DATE}-md5sums.txt`), 'utf8').catch(() => '');
  for (const line of sums.split('\n').filter((l) => l !== '')) {
    const [hash, name] = line.split('  ') as [string, string];
    listed.set(name, hash);
    assert.equal(await md5(join(runDir, name)).catch(() => 'missing'), hash, `${when}: md5sums.txt says ${name} has md5 ${hash}`);
  }
  for (const name of await readdir(runDir)) {
    const perFile = /^md5sums-(.+)\.txt$/.exec(name)?.[1];
    if (perFile === undefined) continue;
    const [hash] = (await readFile(join(runDir, name), 'utf8')).split('  ');
    assert.equal(await md5(join(runDir, perFile)).catch(() => 'missing'), hash, `${when}: ${name} says ${perFile} has md5 ${hash}`);
  }
  // latest/ links only complete files: listed in the checksums with their hashes.
  const latest = join(root, CRASH_WIKI, 'latest');
  for (const name of await latestLinks(latest).catch(() => [] as string[])) {
    if (name.startsWith('.')) continue;
    const target = join(latest, await readlink(join(latest, name)));
    assert.ok(!target.endsWith(IN_PROGRESS_SUFFIX), `${when}: latest/${name} links ${target}`);
    const file = relative(runDir, target);
    if (/-(md5|sha1)sums\.(txt|json)$/.test(file)) continue;
    // Files of the run's jobs not done yet are listed nowhere: the earlier run's, complete, stay linked.
    const complete = listed.has(file) ? [listed.get(file)] : runs.map((r) => r[join(CRASH_WIKI, CRASH_DATE, file)]);
    assert.ok(complete.includes(await md5(target).catch(() => 'missing')), `${when}: latest/${name} links a complete ${file}`);
  }
}

/** Kills a run at each point in turn on one dumps root, then checks that a rerun converges. */
async function crashAndRerun(name: string, wiki: GeneratedWikiOptions, points: readonly string[], o: { completeBefore?: GeneratedWikiOptions; jobs?: readonly string[] } = {}): Promise<void> {
  const reference = await uninterrupted(wiki);
  const runs = [reference, ...(o.completeBefore === undefined ? [] : [await uninterrupted(o.completeBefore)])];
  const root = join(dir, name);
  if (o.completeBefore !== undefined) await run(root, o.completeBefore);
  for (const point of points) {
    killAt(root, point, wiki, o.jobs);
    await assertConsistent(root, `after a kill at ${point}`, runs);
  }
  await run(root, wiki, o.jobs);
  await assertConsistent(root, 'after the rerun', [reference]);
  assert.deepEqual(await tree(root), reference, 'the rerun ends with the bytes of an uninterrupted run');
}

test('a first run killed mid-file, after a finished file, between parts and between jobs: the rerun converges', { timeout: 300_000 }, async () => {
  await crashAndRerun('first', WIKI_A, ['rows:150', 'finish:3', 'rename:pages-meta-history\\d:1', 'rename:^dumpstatus\\.json$:3']);
});

test('a run killed while linking latest/', { timeout: 300_000 }, async () => {
  await crashAndRerun('linking', WIKI_A, ['rename:-latest-:2']);
});

test('a run killed while linking latest/ is complete: relinking it (as each night does) finishes latest/ without rerunning it', { timeout: 300_000 }, async () => {
  const reference = await uninterrupted(WIKI_A);
  const root = join(dir, 'relink');
  killAt(root, 'rename:-latest-:2', WIKI_A);
  const partly = await tree(root);
  assert.notDeepEqual(partly, reference, 'latest/ is left half done');
  assert.equal(await relinkCompleteRun(root, CRASH_WIKI, CRASH_DATE), true);
  assert.deepEqual(await tree(root), reference);
  assert.equal(await relinkCompleteRun(join(dir, 'no-such-root'), CRASH_WIKI, CRASH_DATE), false, 'no run, nothing linked');
});

test('latest/ and the run folder hold only the newest split after a kill while linking an earlier split (relinked, or a later run)', { timeout: 300_000 }, async () => {
  // Half the pages: two history parts where WIKI_A has four, so WIKI_A's last two have no counterpart.
  const smaller: GeneratedWikiOptions = { ...WIKI_A, pages: 40, seed: 44 };
  const reference = await uninterrupted(smaller);
  // A rerun killed after its one new link (other names are linked already): WIKI_A's parts stay.
  let root = join(dir, 'resplit-relink');
  await run(root, WIKI_A);
  killAt(root, 'rename:-latest-:1', smaller);
  assert.equal(await relinkCompleteRun(root, CRASH_WIKI, CRASH_DATE), true);
  assert.deepEqual(await tree(root), reference, 'relinked after a rerun killed while linking');
  // A first run killed between making part 4's link and renaming it into place.
  root = join(dir, 'resplit-temp-link');
  killAt(root, 'symlink:-latest-pages-meta-history4:1', WIKI_A);
  await run(root, smaller);
  assert.deepEqual(await tree(root), reference, 'a run after one killed while making a link');
});

test('a rerun of a complete date killed at each point: readers keep complete files, the next run converges', { timeout: 300_000 }, async () => {
  const points = ['rename:stub-articles\\.xml:1', 'rows:150', 'finish:3', 'rename:pages-meta-history\\d:1', 'rename:pages-meta-history\\d:2', 'rename:^dumpstatus\\.json$:3'];
  for (const point of points) await crashAndRerun(`again-${point.replace(/\W+/g, '-')}`, WIKI_A, [point], { completeBefore: WIKI_A });
});

test('a rerun over a changed state killed at each point: readers keep complete files, the next run converges', { timeout: 300_000 }, async () => {
  const points = ['rename:stub-articles\\.xml:1', 'rows:150', 'finish:3', 'rename:pages-meta-history\\d:1', 'rename:pages-meta-history\\d:2', 'rename:^dumpstatus\\.json$:3'];
  for (const point of points) await crashAndRerun(`changed-${point.replace(/\W+/g, '-')}`, WIKI_B, [point], { completeBefore: WIKI_A });
});

test('a rerun of one job killed mid-file and between its parts: the other jobs stay done, the next run of the job converges', { timeout: 300_000 }, async () => {
  const jobs = ['metahistorybz2dump'];
  for (const point of ['rows:150', 'rename:pages-meta-history\\d:1', 'rename:^dumpstatus\\.json$:2']) {
    await crashAndRerun(`job-${point.replace(/\W+/g, '-')}`, WIKI_A, [point], { completeBefore: WIKI_A, jobs });
  }
});

test('a rerun killed before it replaced any file leaves the earlier checksums, which still describe the files in place', { timeout: 300_000 }, async () => {
  const earlier = await uninterrupted(WIKI_A);
  const root = join(dir, 'unreplaced');
  await run(root, WIKI_A);
  killAt(root, 'rows:150', WIKI_B);
  const sums = (t: Record<string, string>) => Object.fromEntries(Object.entries(t).filter(([name]) => /sums/.test(name)));
  assert.deepEqual(sums(await tree(root)), sums(earlier));
  await assertConsistent(root, 'after the kill', [earlier]);
});
