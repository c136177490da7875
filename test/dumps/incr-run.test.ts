// Adds-changes dumps: each day's files hold exactly the revisions with previous maxrevid < rev_id
// <= this day's maxrevid, consecutive days neither overlap nor leave gaps, and the files, md5sums,
// maxrevid.txt and status.txt have the legacy forms.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runInterruptCleanups } from '../../src/core/interrupt.js';
import type { Logger } from '../../src/core/log.js';
import { makeDirectory } from '../../src/core/make-directory.js';
import { findCompressionTools } from '../../src/dumps/compress.js';
import { runIncrementalDump } from '../../src/dumps/incr-run.js';
import { MemoryDumpSource } from '../../src/dumps/memory-source.js';
import type { DumpRevisionRow, DumpSource } from '../../src/dumps/records.js';
import { eventually } from '../helpers/kafka.js';
import { inTempDir } from '../helpers/temp-dir.js';
import { assertValidExport, decompressFile, GENERATOR_VERSION, TEST_SITE } from './helpers.js';

const tools = findCompressionTools();
const DAY_MS = 86_400_000;
const JULY_30 = Date.UTC(2024, 6, 30);

/** Revisions 1..40, ten per day from July 30 to August 2, spread over five pages; page order ≠ id order. */
function rows(): DumpRevisionRow[] {
  const out: DumpRevisionRow[] = [];
  for (let id = 1; id <= 40; id++) {
    const day = Math.floor((id - 1) / 10);
    const pageId = 50 - (id % 5) * 10;
    const text = `revision ${id}`;
    out.push({
      pageId,
      pageNamespaceId: 0,
      pageTitle: `Page_${pageId}`,
      pageRedirectTarget: null,
      revisionId: id,
      revisionParentId: id > 5 ? id - 5 : null,
      revisionTimestampMs: JULY_30 + day * DAY_MS + ((id - 1) % 10) * 3_600_000,
      revisionIsMinorEdit: false,
      revisionComment: `edit ${id}`,
      revisionCommentIsVisible: true,
      revisionSha1: 'sha1sha1sha1sha1sha1sha1sha1sha',
      revisionContentIsVisible: id !== 17,
      userId: 3,
      userText: 'Carol',
      userIsVisible: true,
      slots: [{ role: 'main', contentModel: 'wikitext', contentFormat: 'text/x-wiki', contentSha1: 'x', contentSizeBytes: text.length, originRevisionId: id, contentBody: text }],
    });
  }
  return out;
}

function revisionIds(xml: Buffer): number[] {
  return [...xml.toString('utf8').matchAll(/<revision>\n {6}<id>(\d+)<\/id>/g)].map((match) => Number(match[1])).sort((a, b) => a - b);
}

/** The adds-changes run of `date` into `root`, read from `source`. */
function runDay(root: string, source: DumpSource, date: string, extra: { delaySeconds?: number } = {}) {
  return runIncrementalDump({ dumpsRoot: root, wikiId: 'testwiki', date, source, site: TEST_SITE, generatorVersion: GENERATOR_VERSION, tools, ...extra });
}

/** The revision ids in the pages file of `date`'s run under `root`. */
function pagesRevisionIds(root: string, date: string): number[] {
  return revisionIds(decompressFile(join(root, 'other', 'incr', 'testwiki', date, `testwiki-${date}-pages-meta-hist-incr.xml.bz2`)));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

test('consecutive days hold the revisions between the previous and the current maxrevid, with the legacy files', async () => {
  await inTempDir('mwlake-incr-', async (root) => {
    const source = new MemoryDumpSource({ testwiki: rows() });
    const run = (date: string) => runDay(root, source, date);

    // First run: no earlier run, so the range starts after the source's maxrevid for the day before.
    const first = await run('20240801');
    assert.deepEqual([first.afterRevisionId, first.maxRevisionId], [10, 20]);
    const second = await run('20240802');
    assert.deepEqual([second.afterRevisionId, second.maxRevisionId], [20, 30]);

    for (const [date, expected] of [
      ['20240801', range(11, 20)],
      ['20240802', range(21, 30)],
    ] as const) {
      const dir = join(root, 'other', 'incr', 'testwiki', date);
      assert.deepEqual((await readdir(dir)).sort(), [
        'maxrevid.txt',
        'prevmaxrevid.txt',
        'status.txt',
        `testwiki-${date}-md5sums.txt`,
        `testwiki-${date}-pages-meta-hist-incr.xml.bz2`,
        `testwiki-${date}-stubs-meta-hist-incr.xml.gz`,
      ]);
      assert.equal(await readFile(join(dir, 'status.txt'), 'utf8'), 'done');
      assert.equal(await readFile(join(dir, 'maxrevid.txt'), 'utf8'), String(expected.at(-1)));
      assert.equal(await readFile(join(dir, 'prevmaxrevid.txt'), 'utf8'), String(expected[0]! - 1));
      const pages = decompressFile(join(dir, `testwiki-${date}-pages-meta-hist-incr.xml.bz2`));
      const stubs = decompressFile(join(dir, `testwiki-${date}-stubs-meta-hist-incr.xml.gz`));
      assert.deepEqual(revisionIds(pages), expected);
      assert.deepEqual(revisionIds(stubs), expected);
      assertValidExport(pages, `${date} pages`);
      assertValidExport(stubs, `${date} stubs`);
      assert.ok(!stubs.toString('utf8').includes('xml:space="preserve">'), 'stubs carry no text');
      const md5 = async (name: string) => createHash('md5').update(await readFile(join(dir, name))).digest('hex');
      assert.equal(
        await readFile(join(dir, `testwiki-${date}-md5sums.txt`), 'utf8'),
        `${await md5('maxrevid.txt')} *maxrevid.txt\n` +
        `${await md5(`testwiki-${date}-stubs-meta-hist-incr.xml.gz`)} *testwiki-${date}-stubs-meta-hist-incr.xml.gz\n` +
          `${await md5(`testwiki-${date}-pages-meta-hist-incr.xml.bz2`)} *testwiki-${date}-pages-meta-hist-incr.xml.bz2`,
      );
    }
  });
});

test('the range starts at the newest completed earlier run, skipping runs without status done', async () => {
  await inTempDir('mwlake-incr-prev-', async (root) => {
    const source = new MemoryDumpSource({ testwiki: rows() });
    const run = (date: string) => runDay(root, source, date);
    await run('20240731');
    // A run two days later still continues from 20240731's maxrevid: no gap.
    const gap = await run('20240802');
    assert.deepEqual([gap.afterRevisionId, gap.maxRevisionId], [10, 30]);
    // An unfinished run (no status "done") does not count.
    const unfinished = join(root, 'other', 'incr', 'testwiki', '20240802');
    await rm(join(unfinished, 'status.txt'));
    const next = await run('20240803');
    assert.deepEqual([next.afterRevisionId, next.maxRevisionId], [10, 40]);
    // Its maxrevid.txt decides where the next day starts, whatever the source says now.
    await writeFile(join(root, 'other', 'incr', 'testwiki', '20240803', 'maxrevid.txt'), '33');
    const after = await run('20240804');
    assert.deepEqual([after.afterRevisionId, after.maxRevisionId], [33, 40]);
    assert.deepEqual(pagesRevisionIds(root, '20240804'), range(34, 40));
  });
});

test('a date filled in after a later one completed ends where that range starts: no revision is in two dates, none in none', async () => {
  await inTempDir('mwlake-incr-fill-', async (root) => {
    const source = new MemoryDumpSource({ testwiki: rows() });
    const run = (date: string) => runDay(root, source, date);
    await run('20240731');
    // 20240801 left behind: 20240802's range starts after 20240731's maxrevid and holds its revisions.
    await run('20240802');
    assert.deepEqual(pagesRevisionIds(root, '20240802'), range(11, 30));
    const filled = await run('20240801');
    assert.deepEqual([filled.afterRevisionId, filled.maxRevisionId], [10, 10]);
    assert.deepEqual(pagesRevisionIds(root, '20240801'), []);
    assert.equal(await readFile(join(root, 'other', 'incr', 'testwiki', '20240801', 'maxrevid.txt'), 'utf8'), '10');
    // The dates after go on as before: 20240802 regenerated keeps its range, 20240803 follows it.
    const again = await run('20240802');
    assert.deepEqual([again.afterRevisionId, again.maxRevisionId], [10, 30]);
    const next = await run('20240803');
    assert.deepEqual([next.afterRevisionId, next.maxRevisionId], [30, 40]);
    const all = ['20240731', '20240801', '20240802', '20240803'].flatMap((d) => pagesRevisionIds(root, d));
    assert.deepEqual(all, range(1, 40));
  });
});

test('maxrevid never goes backwards: revisions deleted above the previous one do not make the next day repeat ids', async () => {
  await inTempDir('mwlake-incr-back-', async (root) => {
    const source = new MemoryDumpSource({ testwiki: rows() });
    const run = (date: string) => runDay(root, source, date);
    await run('20240801');
    // As if revisions 21..35, dumped up to 35 that day, had their pages deleted since.
    await writeFile(join(root, 'other', 'incr', 'testwiki', '20240801', 'maxrevid.txt'), '35');
    const behind = await run('20240802');
    assert.deepEqual([behind.afterRevisionId, behind.maxRevisionId], [35, 35]);
    assert.equal(await readFile(join(root, 'other', 'incr', 'testwiki', '20240802', 'maxrevid.txt'), 'utf8'), '35');
    assert.deepEqual(pagesRevisionIds(root, '20240802'), []);
    const next = await run('20240803');
    assert.deepEqual([next.afterRevisionId, next.maxRevisionId], [35, 40]);
    assert.deepEqual(pagesRevisionIds(root, '20240803'), range(36, 40));
  });
});

test('a rerun that fails leaves no checksum of files it replaced or removed, and no status done', async () => {
  await inTempDir('mwlake-incr-rerun-fails-', async (root) => {
    const good = new MemoryDumpSource({ testwiki: rows() });
    const run = (source: DumpSource) => runDay(root, source, '20240801');
    await run(good);
    // Rerun with one comment changed (new stubs) and a content read that fails.
    const changed = new MemoryDumpSource({ testwiki: rows().map((row) => (row.revisionId === 15 ? { ...row, revisionComment: 'edited since' } : row)) });
    const failing: DumpSource = {
      history: (query) => changed.history(query),
      maxRevisionId: (wikiId, cutoffMs) => changed.maxRevisionId(wikiId, cutoffMs),
      pageTitles: (wikiId, cutoffMs) => changed.pageTitles(wikiId, cutoffMs),
      async *revisionsInIdRange(wikiId, after, upTo, includeContent) {
        if (includeContent) throw new Error('content read failed');
        yield* changed.revisionsInIdRange(wikiId, after, upTo, includeContent);
      },
    };
    await assert.rejects(run(failing), /content read failed/);
    const dir = join(root, 'other', 'incr', 'testwiki', '20240801');
    const names = await readdir(dir);
    assert.ok(!names.includes('status.txt'));
    const sums = names.includes('testwiki-20240801-md5sums.txt') ? await readFile(join(dir, 'testwiki-20240801-md5sums.txt'), 'utf8') : '';
    for (const line of sums.split('\n').filter((l) => l !== '')) {
      const [hash, star] = line.split(' ');
      const name = star!.slice(1);
      assert.ok(names.includes(name), `md5sums.txt lists ${name}, which is gone`);
      assert.equal(createHash('md5').update(await readFile(join(dir, name))).digest('hex'), hash, `md5sums.txt has a wrong md5 for ${name}`);
    }
  });
});

test('a run stopped by SIGTERM has removed the file it was writing by the time its cleanup returns', async () => {
  await inTempDir('mwlake-incr-sigterm-', async (root) => {
    const all = new MemoryDumpSource({ testwiki: rows() });
    let reached!: () => void;
    const atRow = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // The content read stops after its first row until the test lets it go.
    const stalled: DumpSource = {
      history: (query) => all.history(query),
      maxRevisionId: (wikiId, cutoffMs) => all.maxRevisionId(wikiId, cutoffMs),
      pageTitles: (wikiId, cutoffMs) => all.pageTitles(wikiId, cutoffMs),
      async *revisionsInIdRange(wikiId, after, upTo, includeContent) {
        let count = 0;
        for await (const row of all.revisionsInIdRange(wikiId, after, upTo, includeContent)) {
          if (includeContent && ++count === 2) {
            reached();
            await released;
          }
          yield row;
        }
      },
    };
    const run = runDay(root, stalled, '20240801');
    run.catch(() => {});
    try {
      await atRow;
      const dir = join(root, 'other', 'incr', 'testwiki', '20240801');
      await eventually('the pages file being written', () => readdir(dir), (names) => names.some((name) => name.endsWith('.inprog')));
      // What the CLI does on SIGTERM before it exits; the read goes on meanwhile, as a database's would.
      const cleanups = runInterruptCleanups('SIGTERM', 20_000);
      release();
      assert.equal(await cleanups, true);
      assert.deepEqual((await readdir(dir)).filter((name) => name.endsWith('.inprog') || name === 'status.txt'), []);
      await assert.rejects(run, /stopped by SIGTERM/);
    } finally {
      release();
      await run.catch(() => undefined);
    }
  });
});

test('a delay moves the maxrevid cutoff back from 00:00 UTC', async () => {
  await inTempDir('mwlake-incr-delay-', async (root) => {
    const source = new MemoryDumpSource({ testwiki: rows() });
    // Revisions of each day are at 00:00 … 09:00; a 20 h delay ends the range at 04:00 (exclusive) of the day before,
    // and starts it after the previous day's 04:00 maxrevid (ids 1..4 of July 30, 11..14 of July 31).
    const result = await runDay(root, source, '20240801', { delaySeconds: 20 * 3600 });
    assert.deepEqual([result.afterRevisionId, result.maxRevisionId], [4, 14]);
  });
});

test('a rerun of the first date keeps the start its earlier attempt chose, even after the delay changed', async () => {
  await inTempDir('mwlake-incr-rerun-start-', async (root) => {
    const source = new MemoryDumpSource({ testwiki: rows() });
    const first = await runDay(root, source, '20240801', { delaySeconds: 20 * 3600 });
    assert.deepEqual([first.afterRevisionId, first.maxRevisionId], [4, 14]);
    const ids = pagesRevisionIds(root, '20240801');
    // The delay set to 0 since: recomputed, the start would be the previous day's newest (10), and 5..10 would be in no date.
    const rerun = await runDay(root, source, '20240801');
    assert.deepEqual([rerun.afterRevisionId, rerun.maxRevisionId, rerun.maxRevisionIdKept], [4, 14, true]);
    assert.deepEqual(pagesRevisionIds(root, '20240801'), ids);
    assert.equal(await readFile(join(root, 'other', 'incr', 'testwiki', '20240801', 'prevmaxrevid.txt'), 'utf8'), '4');
  });
});

test('maxrevid is the newest revision by time, so an imported revision (old time, new id) pulls no later day in', async () => {
  await inTempDir('mwlake-incr-import-', async (root) => {
    // Days July 30..August 2 hold ids 1..40; id 41 was imported on August 2 with a 2010 timestamp.
    const imported = { ...rows()[0]!, pageId: 60, pageTitle: 'Page_60', revisionId: 41, revisionParentId: null, revisionTimestampMs: Date.UTC(2010, 0, 1) };
    const source = new MemoryDumpSource({ testwiki: [...rows(), imported] });
    const run = (date: string) => runDay(root, source, date);
    const first = await run('20240801');
    assert.deepEqual([first.afterRevisionId, first.maxRevisionId], [10, 20], 'legacy incr_dumps.py: the id of the newest revision before the cutoff');
    assert.deepEqual(pagesRevisionIds(root, '20240801'), range(11, 20));
    const second = await run('20240802');
    assert.deepEqual([second.afterRevisionId, second.maxRevisionId], [20, 30]);
  });
});

test('stubs state the size of a body whose event left content_size out', async () => {
  await inTempDir('mwlake-incr-size-', async (root) => {
    const unstated = rows().map((row) => ({ ...row, slots: row.slots.map((slot) => ({ ...slot, contentBody: `wörd ${row.revisionId}`, contentSizeBytes: null })) }));
    const source = new MemoryDumpSource({ testwiki: unstated });
    const result = await runDay(root, source, '20240801');
    const stubs = decompressFile(join(result.directory, 'testwiki-20240801-stubs-meta-hist-incr.xml.gz')).toString('utf8');
    const pages = decompressFile(join(result.directory, 'testwiki-20240801-pages-meta-hist-incr.xml.bz2')).toString('utf8');
    const sizes = (xml: string) => [...xml.matchAll(/<text bytes="(\d+)"/g)].map((m) => Number(m[1]));
    assert.equal(sizes(stubs).length, 9, 'revisions 11..20 but 17, whose text is hidden');
    assert.deepEqual(sizes(stubs), sizes(pages));
    assert.ok(sizes(stubs).every((n) => n === Buffer.byteLength('wörd 11')), sizes(stubs).join(','));
  });
});

/** Revisions 1..900 on July 31, 901..1000 on August 1 (1000 at 23:59:59), 1001..2000 on August 2, `without` left out. */
function lateRows(without: readonly number[] = []): DumpRevisionRow[] {
  const template = rows()[0]!;
  const at = (id: number) => (id <= 900 ? Date.UTC(2024, 6, 31) + id * 1000 : id <= 1000 ? Date.UTC(2024, 7, 1, 23, 58) + (id - 940) * 1000 : Date.UTC(2024, 7, 2) + (id - 1000) * 1000);
  return range(1, 2000)
    .filter((id) => !without.includes(id))
    .map((id) => ({ ...template, pageId: 1 + (id % 7), pageTitle: `Page_${1 + (id % 7)}`, revisionId: id, revisionParentId: null, revisionTimestampMs: at(id), slots: [{ ...template.slots[0]!, contentBody: `revision ${id}`, originRevisionId: id }] }));
}

/** Revision 1005, merged late: saved in the same second as 1000, before August 2 00:00 UTC. */
function lateRevision(): DumpRevisionRow {
  const row = lateRows().find((r) => r.revisionId === 1005)!;
  return { ...row, revisionTimestampMs: Date.UTC(2024, 7, 1, 23, 59, 59) };
}

/** The revision ids of both files of `date`'s run, checked to agree. */
function incrementalRevisionIds(root: string, date: string): number[] {
  const dir = join(root, 'other', 'incr', 'testwiki', date);
  const pages = revisionIds(decompressFile(join(dir, `testwiki-${date}-pages-meta-hist-incr.xml.bz2`)));
  assert.deepEqual(revisionIds(decompressFile(join(dir, `testwiki-${date}-stubs-meta-hist-incr.xml.gz`))), pages, `${date}: stubs and pages list the same revisions`);
  return pages;
}

test('a rerun of a date keeps its maxrevid.txt, so a revision merged late moves no range into the next date', async () => {
  await inTempDir('mwlake-incr-late-', async (root) => {
    const before = new MemoryDumpSource({ testwiki: lateRows([1005]) });
    const dates = ['20240801', '20240802', '20240803'];
    for (const date of dates) await runDay(root, before, date);
    const maxrevid = (date: string) => readFile(join(root, 'other', 'incr', 'testwiki', date, 'maxrevid.txt'), 'utf8');
    assert.deepEqual(await Promise.all(dates.map(maxrevid)), ['900', '1000', '2000']);
    const middle = incrementalRevisionIds(root, '20240802');
    assert.deepEqual(middle, range(901, 1000));

    // Revision 1005 merged late; the middle date regenerated (`mwlake dump --date 2024-08-02`).
    const after = new MemoryDumpSource({ testwiki: [...lateRows([1005]), lateRevision()] });
    assert.equal(await after.maxRevisionId('testwiki', Date.UTC(2024, 7, 2)), 1005, 'recomputed, the middle date would end at 1005');
    const logged: { object: unknown; message: string }[] = [];
    const logger = { info: (object: unknown, message: string) => logged.push({ object, message }) } as unknown as Logger;
    const rerun = await runIncrementalDump({ dumpsRoot: root, wikiId: 'testwiki', date: '20240802', source: after, site: TEST_SITE, generatorVersion: GENERATOR_VERSION, tools, logger });
    assert.deepEqual([rerun.afterRevisionId, rerun.maxRevisionId, rerun.maxRevisionIdKept], [900, 1000, true]);
    assert.equal(await maxrevid('20240802'), '1000');
    assert.equal(await readFile(join(root, 'other', 'incr', 'testwiki', '20240802', 'status.txt'), 'utf8'), 'done');
    assert.deepEqual(incrementalRevisionIds(root, '20240802'), middle);
    assert.deepEqual(logged.map((line) => line.object), [{ wiki: 'testwiki', date: '20240802', afterRevisionId: 900, maxRevisionId: 1000 }]);
    assert.match(logged[0]!.message, /keeps the range of its earlier run/);

    // No revision in two dates; the next date's rerun then adds 1005 where its id falls.
    const seen = new Map<number, string>();
    for (const date of dates) {
      for (const id of incrementalRevisionIds(root, date)) {
        assert.equal(seen.get(id), undefined, `revision ${id} is in ${seen.get(id)} and ${date}`);
        seen.set(id, date);
      }
    }
    assert.equal(seen.size, 1999);
    await runDay(root, after, '20240803');
    assert.deepEqual(incrementalRevisionIds(root, '20240803'), range(1001, 2000));
  });
});

test('a maxrevid.txt is kept from an attempt that failed after writing it, and computed when the attempt stopped before', async () => {
  await inTempDir('mwlake-incr-late-failed-', async (root) => {
    const before = new MemoryDumpSource({ testwiki: lateRows([1005]) });
    const after = new MemoryDumpSource({ testwiki: [...lateRows([1005]), lateRevision()] });
    await runDay(root, before, '20240801');
    // An attempt of 20240802 that failed reading the content, after it wrote maxrevid.txt.
    const failing: DumpSource = {
      history: (query) => before.history(query),
      maxRevisionId: (wikiId, cutoffMs) => before.maxRevisionId(wikiId, cutoffMs),
      pageTitles: (wikiId, cutoffMs) => before.pageTitles(wikiId, cutoffMs),
      async *revisionsInIdRange(wikiId, afterId, upTo, includeContent) {
        if (includeContent) throw new Error('content read failed');
        yield* before.revisionsInIdRange(wikiId, afterId, upTo, includeContent);
      },
    };
    await assert.rejects(runDay(root, failing, '20240802'), /content read failed/);
    const dir = join(root, 'other', 'incr', 'testwiki', '20240802');
    assert.equal(await readFile(join(dir, 'maxrevid.txt'), 'utf8'), '1000');
    const kept = await runDay(root, after, '20240802');
    assert.deepEqual([kept.afterRevisionId, kept.maxRevisionId, kept.maxRevisionIdKept], [900, 1000, true]);
    assert.deepEqual(incrementalRevisionIds(root, '20240802'), range(901, 1000));

    // An attempt stopped before it wrote maxrevid.txt (only its folder made): the rerun computes it.
    await rm(dir, { recursive: true });
    await makeDirectory(dir);
    const computed = await runDay(root, after, '20240802');
    assert.deepEqual([computed.afterRevisionId, computed.maxRevisionId, computed.maxRevisionIdKept], [900, 1005, false]);
    assert.equal(await readFile(join(dir, 'maxrevid.txt'), 'utf8'), '1005');
    assert.deepEqual(incrementalRevisionIds(root, '20240802'), range(901, 1005), 'an id range, as legacy incr_dumps.py reads it');
  });
});
