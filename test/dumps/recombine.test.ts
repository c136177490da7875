// Recombined files of split outputs (Wikimedia's …recombine jobs): each is the file the same run
// would write unsplit, they are listed, checksummed and linked as a job of their own, and parts
// that are not the run's own are refused.

import assert from 'node:assert/strict';
import { access, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { runInterruptCleanups } from '../../src/core/interrupt.js';
import { findCompressionTools } from '../../src/dumps/compress.js';
import { runDump, selectDumpJobs, type DumpRunOptions } from '../../src/dumps/dump-run.js';
import { parseDumpStatus, renderDumpStatus } from '../../src/dumps/dump-status.js';
import { recombineXmlParts } from '../../src/dumps/recombine.js';
import { eventually } from '../helpers/kafka.js';
import { inTempDir } from '../helpers/temp-dir.js';
import { MemoryDumpSource } from '../../src/dumps/memory-source.js';
import type { DumpRevisionRow } from '../../src/dumps/records.js';
import { GeneratedDumpSource } from './generated-source.js';
import { assertValidExport, bunzip2, bunzip2OneStream, caseDirs, decompressFile, GENERATOR_VERSION, goldenDir, readGoldenRows, TEST_SITE, latestLinks } from './helpers.js';

const WIKI = 'testwiki';
const DATE = '20240801';
const tools = findCompressionTools();

function options(dumpsRoot: string, overrides: Partial<DumpRunOptions> = {}): DumpRunOptions {
  return {
    dumpsRoot,
    wikiId: WIKI,
    date: DATE,
    // 450 pages: the multistream (100 pages per stream) splits too.
    source: new GeneratedDumpSource({ pages: 450, revisionsPerPage: 2, textChars: 200, seed: 3 }),
    site: TEST_SITE,
    generatorVersion: GENERATOR_VERSION,
    tools,
    now: () => new Date(Date.UTC(2024, 7, 1, 3, 4, 5)),
    ...overrides,
  };
}

const name = (dumpName: string, suffix: string) => `${WIKI}-${DATE}-${dumpName}${suffix}`;
const RECOMBINED: Readonly<Record<string, readonly string[]>> = {
  xmlstubsdumprecombine: [name('stub-meta-history', '.xml.gz'), name('stub-meta-current', '.xml.gz'), name('stub-articles', '.xml.gz')],
  metacurrentdumprecombine: [name('pages-meta-current', '.xml.bz2')],
  articlesdumprecombine: [name('pages-articles', '.xml.bz2')],
  articlesmultistreamdumprecombine: [name('pages-articles-multistream', '.xml.bz2'), name('pages-articles-multistream-index', '.txt.bz2')],
};
const SPLIT = 60_000;

/** The tools with a bzip2 that compresses but, to decompress, fails (exit 2) or stalls 30 s (as on a stalled disk; its sleep outlives a kill of the shell). */
async function bzip2WhoseDecompression(dir: string, behaviour: 'fails' | 'stalls'): Promise<typeof tools> {
  const script = join(dir, 'lbzip2');
  const onDecompress = behaviour === 'fails' ? '{ echo "no decompression here" >&2; exit 2; }' : 'sleep 30';
  await writeFile(script, `#!/bin/sh\nfor a in "$@"; do [ "$a" = -d ] && ${onDecompress}; done\nexec "${tools.bzip2!.command}" "$@"\n`, { mode: 0o755 });
  return { ...tools, bzip2: { command: script, parallel: tools.bzip2!.parallel } };
}

/**
 * A split run of the date whose recombine `jobs` then failed, as a full disk leaves them: listed
 * failed, their files gone. Returns the run folder and the files they had written, by name.
 */
async function splitRunWithFailedRecombines(dumpsRoot: string, jobs: readonly string[]): Promise<{ run: string; removed: Map<string, Buffer> }> {
  const run = join(dumpsRoot, WIKI, DATE);
  await runDump(options(dumpsRoot, { maxPartBytes: SPLIT }));
  const status = parseDumpStatus(await readFile(join(run, 'dumpstatus.json'), 'utf8'))!;
  const removed = new Map<string, Buffer>();
  for (const job of jobs) {
    status.set(job, { status: 'failed', updated: '2024-08-01 03:04:05', files: [] });
    for (const file of RECOMBINED[job]!) removed.set(file, await readFile(join(run, file)));
  }
  await writeFile(join(run, 'dumpstatus.json'), renderDumpStatus(WIKI, DATE, [...status]));
  for (const file of removed.keys()) await rm(join(run, file));
  return { run, removed };
}

test('a split output is also recombined into the one file an unsplit run writes, as a job of its own', async () => {
  await inTempDir('mwlake-recombine-', async (dir) => {
    const whole = join(dir, 'whole');
    const split = join(dir, 'split');
    await runDump(options(whole));
    const result = await runDump(options(split, { maxPartBytes: SPLIT }));
    assert.equal(result.complete, true);
    const reported = result.files.map((file) => file.name);
    for (const file of Object.values(RECOMBINED).flat()) assert.ok(reported.includes(file), `the run reports ${file}`);
    const run = join(split, WIKI, DATE);
    const names = await readdir(run);
    for (const dumpName of ['stub-meta-history', 'stub-meta-current', 'stub-articles', 'pages-meta-current', 'pages-articles', 'pages-articles-multistream', 'pages-meta-history']) {
      assert.ok(names.some((file) => file.startsWith(`${WIKI}-${DATE}-${dumpName}2.`)), `${dumpName} is split`);
    }
    for (const files of Object.values(RECOMBINED)) {
      for (const file of files) {
        const recombined = decompressFile(join(run, file));
        assert.ok(recombined.equals(decompressFile(join(whole, WIKI, DATE, file))), `${file} holds the unsplit run's XML`);
        if (file.includes('.xml')) assertValidExport(recombined, file);
      }
    }
    // Neither the multistream nor pages-articles (joined from its streams) is compressed again: the
    // same streams, byte for byte, and the index's offsets match them.
    for (const file of [RECOMBINED.articlesmultistreamdumprecombine![0]!, RECOMBINED.articlesdumprecombine![0]!]) {
      assert.ok((await readFile(join(run, file))).equals(await readFile(join(whole, WIKI, DATE, file))), `${file} is byte for byte the unsplit run's`);
    }
    // A single-stream reader reads all of pages-articles.
    const articles = RECOMBINED.articlesdumprecombine![0]!;
    assert.ok(bunzip2OneStream(await readFile(join(run, articles))).equals(decompressFile(join(run, articles))));
    assert.ok(!names.includes(name('pages-meta-history', '.xml.bz2')), 'pages-meta-history is not recombined, as in Wikimedia\'s runs');
    assert.deepEqual(names.filter((file) => file.endsWith('.inprog')), []);

    const status = parseDumpStatus(await readFile(join(run, 'dumpstatus.json'), 'utf8'))!;
    const jobs = [...status.keys()];
    for (const [job, files] of Object.entries(RECOMBINED)) {
      const main = job.replace(/recombine$/, '');
      assert.equal(jobs.indexOf(job), jobs.indexOf(main) + 1, `${job} follows ${main}`);
      assert.equal(status.get(job)!.status, 'done');
      assert.deepEqual(status.get(job)!.files.map((file) => file.name), files);
      assert.ok(status.get(main)!.files.every((file) => /\d\.(xml|txt)-p\d+p\d+\./.test(file.name)), `${main} lists its parts only`);
    }
    const md5sums = await readFile(join(run, `${WIKI}-${DATE}-md5sums.txt`), 'utf8');
    const latest = join(split, WIKI, 'latest');
    for (const file of Object.values(RECOMBINED).flat()) {
      const md5 = status.get(jobs.find((job) => status.get(job)!.files.some((f) => f.name === file))!)!.files.find((f) => f.name === file)!.md5;
      assert.ok(md5sums.includes(`${md5}  ${file}\n`), `md5sums lists ${file}`);
      assert.equal(await readlink(join(latest, file.replace(`-${DATE}-`, '-latest-'))), `../${DATE}/${file}`);
    }

    // An unsplit run lists no recombine job; its files take the recombined ones' names.
    await runDump(options(split));
    const unsplit = parseDumpStatus(await readFile(join(run, 'dumpstatus.json'), 'utf8'))!;
    assert.deepEqual([...unsplit.keys()].filter((job) => job.endsWith('recombine')), []);
    assert.deepEqual((await readdir(run)).sort(), (await readdir(join(whole, WIKI, DATE))).sort());
  });
});

test('the recombined index keeps titles of any script whole, however its parts\' indexes are read in chunks', async () => {
  await inTempDir('mwlake-recombine-titles-', async (dir) => {
    const template = caseDirs().flatMap((c) => readGoldenRows(join(goldenDir, c))).find((row) => row.pageNamespaceId === 0)!;
    // 8,000 pages: each part's index is well over the 64 KiB a decompressor's pipe hands over at once.
    const rows: DumpRevisionRow[] = Array.from({ length: 8000 }, (_, i) => ({
      ...template,
      pageId: i + 1,
      revisionId: 10 * (i + 1),
      revisionParentId: null,
      pageTitle: `Ünïcödé_–_日本語_${i + 1}`,
      pageRedirectTarget: null,
      slots: [{ ...template.slots[0]!, contentBody: `text ${i}`, contentSizeBytes: null, originRevisionId: null }],
    }));
    const run = (dumpsRoot: string, maxPartBytes?: number) =>
      runDump(options(dumpsRoot, { source: new MemoryDumpSource({ [WIKI]: rows }), jobs: ['articlesdump', 'articlesmultistreamdump'], ...(maxPartBytes === undefined ? {} : { maxPartBytes }) }));
    await run(join(dir, 'whole'));
    const split = await run(join(dir, 'split'), 1_500_000);
    assert.ok(split.files.filter((file) => file.name.includes('-index')).length > 2, 'the multistream is split');
    for (const file of [...RECOMBINED.articlesmultistreamdumprecombine!, ...RECOMBINED.articlesdumprecombine!]) {
      assert.ok((await readFile(join(dir, 'split', WIKI, DATE, file))).equals(await readFile(join(dir, 'whole', WIKI, DATE, file))), `${file} is byte for byte the unsplit run's`);
    }
  });
});

test('other codecs recombine too, and a rerun of one job redoes its recombination and keeps the others', async () => {
  await inTempDir('mwlake-recombine-codecs-', async (dir) => {
    const compression = { current: 'zst', articles: 'gz', stubs: 'bz2' } as const;
    await runDump(options(join(dir, 'whole'), { compression }));
    const split = join(dir, 'split');
    await runDump(options(split, { compression, maxPartBytes: SPLIT }));
    const run = join(split, WIKI, DATE);
    for (const file of [name('pages-meta-current', '.xml.zst'), name('pages-articles', '.xml.gz'), name('stub-meta-history', '.xml.bz2')]) {
      assert.ok(decompressFile(join(run, file)).equals(decompressFile(join(dir, 'whole', WIKI, DATE, file))), file);
    }
    const before = parseDumpStatus(await readFile(join(run, 'dumpstatus.json'), 'utf8'))!;
    // The pages-meta-current rerun splits no more: its recombine job goes, the others stay as they were.
    const rerun = await runDump(options(split, { compression, jobs: ['metacurrentdump'] }));
    assert.equal(rerun.complete, true);
    const after = parseDumpStatus(await readFile(join(run, 'dumpstatus.json'), 'utf8'))!;
    assert.equal(after.has('metacurrentdumprecombine'), false);
    assert.deepEqual(after.get('metacurrentdump')!.files.map((file) => file.name), [name('pages-meta-current', '.xml.zst')]);
    for (const job of ['xmlstubsdumprecombine', 'articlesdumprecombine', 'articlesmultistreamdumprecombine']) assert.deepEqual(after.get(job), before.get(job), job);
    // Split again: recombined again.
    await runDump(options(split, { compression, jobs: ['metacurrentdump'], maxPartBytes: SPLIT }));
    const again = parseDumpStatus(await readFile(join(run, 'dumpstatus.json'), 'utf8'))!;
    assert.deepEqual(again.get('metacurrentdumprecombine')!.files.map((file) => file.name), [name('pages-meta-current', '.xml.zst')]);
    assert.equal(again.get('metacurrentdumprecombine')!.status, 'done');
  });
});

test('a recombine job is chosen alone or runs with its job', () => {
  assert.deepEqual([...selectDumpJobs(['articlesdumprecombine'])], ['articlesdumprecombine']);
  assert.deepEqual([...selectDumpJobs(['articlesdump', 'articlesdumprecombine'])], ['articlesdump']);
  assert.throws(() => selectDumpJobs(['metahistorybz2dumprecombine']), /unknown dump job .*articlesdumprecombine/);
});

test('a recombination that failed is redone alone from the parts its job left, reading no history, byte for byte as before', async () => {
  await inTempDir('mwlake-recombine-alone-', async (dir) => {
    const dumpsRoot = join(dir, 'dumps');
    const { run, removed: before } = await splitRunWithFailedRecombines(dumpsRoot, Object.keys(RECOMBINED));
    const noHistory = new MemoryDumpSource({});
    noHistory.history = () => {
      throw new Error('the history was read');
    };
    const result = await runDump(options(dumpsRoot, { maxPartBytes: SPLIT, source: noHistory, jobs: Object.keys(RECOMBINED) }));
    assert.equal(result.complete, true);
    const again = parseDumpStatus(await readFile(join(run, 'dumpstatus.json'), 'utf8'))!;
    for (const [job, files] of Object.entries(RECOMBINED)) {
      assert.equal(again.get(job)!.status, 'done', job);
      assert.deepEqual(again.get(job)!.files.map((file) => file.name), files, job);
    }
    for (const [file, bytes] of before) {
      // The multistream and its index are its parts' streams again, byte for byte; XML parts are
      // compressed again (bz2 pages-articles too, which the full run joined from the multistream's streams).
      if (RECOMBINED.articlesmultistreamdumprecombine!.includes(file)) assert.ok((await readFile(join(run, file))).equals(bytes), `${file} is byte for byte the run's own`);
      else assert.ok(decompressFile(join(run, file)).equals(file.endsWith('.gz') ? gunzipSync(bytes) : bunzip2(bytes)), `${file} holds the run's own XML`);
    }
    const md5sums = await readFile(join(run, `${WIKI}-${DATE}-md5sums.txt`), 'utf8');
    for (const file of before.keys()) assert.ok(md5sums.includes(file), `md5sums lists ${file}`);
    const latest = await latestLinks(join(dumpsRoot, WIKI, 'latest'));
    assert.ok(latest.includes(`${WIKI}-latest-pages-articles-multistream.xml.bz2`));
    assert.deepEqual((await readdir(run)).filter((file) => file.endsWith('.inprog')), []);
  });
});

test('a recombine job alone needs its job done and split on the date, and says which it is not', async () => {
  await inTempDir('mwlake-recombine-alone-refused-', async (dir) => {
    const dumpsRoot = join(dir, 'dumps');
    const refused = (pattern: RegExp) => (error: Error & { code?: string }) => error.code === 'USAGE' && pattern.test(error.message);
    const alone = { jobs: ['metacurrentdumprecombine'] };
    await assert.rejects(runDump(options(dumpsRoot, alone)), refused(new RegExp(`recombines the parts of metacurrentdump, which is not done on ${WIKI} 20240801`)));
    assert.equal(await stat(join(dumpsRoot, WIKI, DATE)).catch(() => undefined), undefined, 'the refused run left no run folder');
    await runDump(options(dumpsRoot));
    await assert.rejects(runDump(options(dumpsRoot, alone)), refused(new RegExp(`which did not split on ${WIKI} 20240801: there is nothing to recombine \\(its output fit in one file`)));
    // Split by an mwlake before recombination: its status lists parts and no recombine job.
    await runDump(options(dumpsRoot, { maxPartBytes: SPLIT }));
    const statusPath = join(dumpsRoot, WIKI, DATE, 'dumpstatus.json');
    const jobs = [...parseDumpStatus(await readFile(statusPath, 'utf8'))!].filter(([job]) => !job.endsWith('recombine'));
    await writeFile(statusPath, renderDumpStatus(WIKI, DATE, jobs));
    await assert.rejects(runDump(options(dumpsRoot, alone)), refused(new RegExp(`which split on ${WIKI} 20240801 before mwlake recombined parts: there is nothing to recombine \\(run metacurrentdump`)));
  });
});

test('a recombination that fails fails the run and its job, and leaves neither its file nor latest/ links to it', async () => {
  await inTempDir('mwlake-recombine-fail-', async (dir) => {
    const badTools = await bzip2WhoseDecompression(dir, 'fails');
    const dumpsRoot = join(dir, 'dumps');
    await assert.rejects(
      runDump(options(dumpsRoot, { maxPartBytes: SPLIT, tools: badTools })),
      (error: Error & { code?: string }) => error.code === 'DATA' && /not a readable bz2 file/.test(error.message) && /no decompression here/.test(error.message),
    );
    const run = join(dumpsRoot, WIKI, DATE);
    const status = parseDumpStatus(await readFile(join(run, 'dumpstatus.json'), 'utf8'))!;
    assert.equal(status.get('metacurrentdumprecombine')!.status, 'failed');
    assert.equal(status.get('metacurrentdump')!.status, 'done', 'the parts stay');
    for (const [job, state] of status) if (job.endsWith('recombine')) assert.ok(['done', 'failed'].includes(state.status), `${job} is not left ${state.status}`);
    const names = await readdir(run);
    assert.deepEqual(names.filter((file) => file.endsWith('.inprog')), []);
    assert.ok(!names.includes(name('pages-meta-current', '.xml.bz2')));
    await assert.rejects(access(join(dumpsRoot, WIKI, 'latest')));
  });
});

/**
 * Sends the run `dump` SIGTERM (what the CLI does before it exits) once `main`'s recombination is
 * under way in `run`, and checks that the recombination failed (or, redone alone, stopped before it
 * published anything, is done as the earlier run left it), `main` stayed done, and nothing is left
 * in progress.
 */
async function stoppedBySigterm(run: string, dump: Promise<unknown>, main: string, recombination: 'failed' | 'done' = 'failed'): Promise<void> {
  dump.catch(() => {});
  const job = `${main}recombine`;
  await eventually('the recombination under way', () => readFile(join(run, 'dumpstatus.json'), 'utf8').catch(() => ''), (text) => parseDumpStatus(text)?.get(job)?.status === 'in-progress');
  assert.equal(await runInterruptCleanups('SIGTERM', 20_000), true);
  await assert.rejects(dump, /stopped by SIGTERM/);
  const status = parseDumpStatus(await readFile(join(run, 'dumpstatus.json'), 'utf8'))!;
  assert.equal(status.get(job)!.status, recombination);
  assert.equal(status.get(main)!.status, 'done');
  assert.deepEqual((await readdir(run)).filter((file) => file.endsWith('.inprog')), []);
}

test('SIGTERM stops a recombination, even one whose decompressor stalls: its job fails and nothing is left in progress', async () => {
  await inTempDir('mwlake-recombine-stop-', async (dir) => {
    const badTools = await bzip2WhoseDecompression(dir, 'stalls');
    const dumpsRoot = join(dir, 'dumps');
    const run = join(dumpsRoot, WIKI, DATE);
    // Every output had finished already.
    await stoppedBySigterm(run, runDump(options(dumpsRoot, { jobs: ['metacurrentdump'], maxPartBytes: SPLIT, tools: badTools })), 'metacurrentdump');
  });
});

test('parts that do not carry the run\'s header and footer are refused, naming the part', async () => {
  await inTempDir('mwlake-recombine-parts-', async (dir) => {
    const header = '<mediawiki>\n  <siteinfo/>\n';
    const footer = '</mediawiki>\n';
    const parts = [
      { name: 'a1.xml.gz', text: `${header}  <page>1</page>\n${footer}` },
      { name: 'a2.xml.gz', text: `${header}  <page>2</page>\n${footer}` },
      { name: 'a3.xml.gz', text: `${header}  <page>3</page>\n${footer}` },
    ];
    const write = async (list: typeof parts) => {
      for (const part of list) await writeFile(join(dir, part.name), gzipSync(part.text));
      return list.map((part) => ({ name: part.name, sizeBytes: 0, md5: '', sha1: '' }));
    };
    const recombine = (files: Awaited<ReturnType<typeof write>>) => recombineXmlParts({ directory: dir, tools, parts: files, codec: 'gz', header, footer, name: 'a.xml.gz' });
    const file = await recombine(await write(parts));
    assert.equal(decompressFile(join(dir, file.name)).toString(), `${header}  <page>1</page>\n  <page>2</page>\n  <page>3</page>\n${footer}`);
    for (const [bad, what] of [
      [{ ...parts[1]!, text: `<mediawiki>\n  <siteinfo>other</siteinfo>\n  <page>2</page>\n${footer}` }, /a2\.xml\.gz: it does not start with the run's <mediawiki> header/],
      [{ ...parts[1]!, text: `${header}  <page>2</page>\n` }, /a2\.xml\.gz: it does not end with <\/mediawiki>/],
    ] as const) {
      await assert.rejects(recombine(await write([parts[0]!, bad, parts[2]!])), (error: Error & { code?: string }) => error.code === 'DATA' && what.test(error.message));
      assert.deepEqual((await readdir(dir)).filter((entry) => entry.endsWith('.inprog')), []);
    }
  });
});

test('a recombine job chosen with every other job but its own runs: the date is not taken for a run of every job', async () => {
  await inTempDir('mwlake-recombine-review-every-', async (dir) => {
    const dumpsRoot = join(dir, 'dumps');
    const { run } = await splitRunWithFailedRecombines(dumpsRoot, ['articlesdumprecombine']);
    const jobs = ['pagetitlesdump', 'allpagetitlesdump', 'xmlstubsdump', 'metacurrentdump', 'articlesmultistreamdump', 'metahistorybz2dump', 'articlesdumprecombine'];
    const result = await runDump(options(dumpsRoot, { maxPartBytes: SPLIT, jobs }));
    assert.equal(result.complete, true);
    const again = parseDumpStatus(await readFile(join(run, 'dumpstatus.json'), 'utf8'))!;
    assert.equal(again.get('articlesdump')!.status, 'done');
    assert.equal(again.get('articlesdumprecombine')!.status, 'done');
  });
});

test('a recombination redone alone that fails before it publishes leaves the earlier run as it was: no unlisted recombined file, nor latest/ links to one', async () => {
  await inTempDir('mwlake-recombine-review-fail-alone-', async (dir) => {
    const badTools = await bzip2WhoseDecompression(dir, 'fails');
    const dumpsRoot = join(dir, 'dumps');
    const run = join(dumpsRoot, WIKI, DATE);
    await runDump(options(dumpsRoot, { maxPartBytes: SPLIT }));
    await assert.rejects(runDump(options(dumpsRoot, { maxPartBytes: SPLIT, jobs: ['metacurrentdumprecombine'], tools: badTools })));
    const status = parseDumpStatus(await readFile(join(run, 'dumpstatus.json'), 'utf8'))!;
    assert.equal(status.get('metacurrentdumprecombine')!.status, 'done', 'the earlier run\'s status, put back');
    assert.ok(status.get('metacurrentdumprecombine')!.files.some((file) => file.name === name('pages-meta-current', '.xml.bz2')));
    const names = await readdir(run);
    const md5 = await readFile(join(run, `${WIKI}-${DATE}-md5sums.txt`), 'utf8');
    const latest = await latestLinks(join(dumpsRoot, WIKI, 'latest')).catch(() => [] as string[]);
    assert.ok(!names.includes(name('pages-meta-current', '.xml.bz2')) || md5.includes(name('pages-meta-current', '.xml.bz2')),
      `the old recombined file is left unlisted (md5sums ${md5.includes('pages-meta-current.xml.bz2')}); latest/ still links it: ${latest.includes(`${WIKI}-latest-pages-meta-current.xml.bz2`)}`);
  });
});

test('SIGTERM during a multistream recombination redone alone, before it published, leaves the earlier run as it was and nothing in progress', async () => {
  await inTempDir('mwlake-recombine-review-stop-alone-', async (dir) => {
    const badTools = await bzip2WhoseDecompression(dir, 'stalls');
    const dumpsRoot = join(dir, 'dumps');
    const run = join(dumpsRoot, WIKI, DATE);
    await runDump(options(dumpsRoot, { maxPartBytes: SPLIT }));
    await stoppedBySigterm(run, runDump(options(dumpsRoot, { jobs: ['articlesmultistreamdumprecombine'], maxPartBytes: SPLIT, tools: badTools })), 'articlesmultistreamdump', 'done');
    // Stopped before it published: the earlier recombined file stays, listed as before.
    const md5 = await readFile(join(run, `${WIKI}-${DATE}-md5sums.txt`), 'utf8');
    assert.ok(md5.includes(name('pages-articles-multistream', '.xml.bz2')));
    await access(join(run, name('pages-articles-multistream', '.xml.bz2')));
  });
});

test('a recombination redone alone by a newer mwlake (another <generator>) checks the parts against their own header', async () => {
  await inTempDir('mwlake-recombine-review-version-', async (dir) => {
    const dumpsRoot = join(dir, 'dumps');
    await splitRunWithFailedRecombines(dumpsRoot, ['metacurrentdumprecombine']);
    const result = await runDump(options(dumpsRoot, { maxPartBytes: SPLIT, jobs: ['metacurrentdumprecombine'], generatorVersion: `${GENERATOR_VERSION}-next` }));
    assert.equal(result.complete, true);
  });
});
