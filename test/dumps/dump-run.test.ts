// A whole dump run over the golden rows (plus revisions around the cutoff): the layout and names,
// XSD validity of every output kind, mwxml reading the files back to the input, checksum files,
// dumpstatus.json, latest/ links, byte-identical reruns and what a failing job leaves behind.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { access, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { findCompressionTools } from '../../src/dumps/compress.js';
import { runInterruptCleanups } from '../../src/core/interrupt.js';
import { relinkCompleteRun, runDump, type DumpRunOptions } from '../../src/dumps/dump-run.js';
import { isCompleteRunStatus, parseDumpStatus } from '../../src/dumps/dump-status.js';
import { MemoryDumpSource } from '../../src/dumps/memory-source.js';
import type { DumpQuery, DumpRevisionRow, DumpSource, PageTitle } from '../../src/dumps/records.js';
import { eventually } from '../helpers/kafka.js';
import { inTempDir } from '../helpers/temp-dir.js';
import type { JsonObject } from '../helpers/python.js';
import { assertValidExport, bunzip2OneStream, caseDirs, decompressFile, GENERATOR_VERSION, goldenDir, readGoldenRows, readWithMwxml, TEST_SITE, latestLinks } from './helpers.js';

const WIKI = 'testwiki';
const DATE = '20240801';
const CUTOFF_MS = Date.UTC(2024, 7, 1);
const FIXED_NOW = () => new Date(Date.UTC(2024, 7, 1, 3, 4, 5));
const tools = findCompressionTools();

function allGoldenRows(): DumpRevisionRow[] {
  return caseDirs().flatMap((name) => readGoldenRows(join(goldenDir, name)));
}

/** Golden rows plus two revisions of page 1 around the cutoff: the last one before it and one exactly at it. */
function inputRows(): DumpRevisionRow[] {
  const rows = allGoldenRows();
  const page1 = rows.find((row) => row.pageId === 1)!;
  const body = (text: string) => [{ ...page1.slots[0]!, contentBody: text, contentSizeBytes: Buffer.byteLength(text), originRevisionId: null }];
  return [
    ...rows,
    { ...page1, revisionId: 199, revisionParentId: 14, revisionTimestampMs: CUTOFF_MS - 1000, slots: body('last before the cutoff'), revisionComment: 'latest' },
    { ...page1, revisionId: 200, revisionParentId: 199, revisionTimestampMs: CUTOFF_MS, slots: body('AT-THE-CUTOFF must not appear'), revisionComment: 'too late' },
  ];
}

let root: string;

function options(overrides: Partial<DumpRunOptions> = {}): DumpRunOptions {
  return {
    dumpsRoot: root,
    wikiId: WIKI,
    date: DATE,
    source: new MemoryDumpSource({ [WIKI]: inputRows() }),
    site: TEST_SITE,
    generatorVersion: GENERATOR_VERSION,
    tools,
    now: FIXED_NOW,
    ...overrides,
  };
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mwlake-dump-run-'));
  await runDump(options());
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

const runDir = () => join(root, WIKI, DATE);

const CONTENT_FILES = [
  'testwiki-20240801-all-titles-in-ns0.gz',
  'testwiki-20240801-all-titles.gz',
  'testwiki-20240801-stub-meta-history.xml.gz',
  'testwiki-20240801-stub-meta-current.xml.gz',
  'testwiki-20240801-stub-articles.xml.gz',
  'testwiki-20240801-pages-meta-current.xml.bz2',
  'testwiki-20240801-pages-articles.xml.bz2',
  'testwiki-20240801-pages-articles-multistream.xml.bz2',
  'testwiki-20240801-pages-articles-multistream-index.txt.bz2',
  'testwiki-20240801-pages-meta-history.xml.bz2',
];

// The files that carry a run's job states, and its only files with a wall-clock time in them.
const STATUS_FILES = ['dumpruninfo.json', 'dumpruninfo.txt', 'dumpstatus.json'];

test('a run writes every output kind under <root>/<wiki>/<date> with Wikimedia file names and leaves nothing in progress', async () => {
  const names = (await readdir(runDir())).sort();
  const checksumFiles = ['md5sums.json', 'md5sums.txt', 'sha1sums.json', 'sha1sums.txt'].map((suffix) => `testwiki-20240801-${suffix}`);
  const perFile = CONTENT_FILES.flatMap((file) => [`md5sums-${file}.txt`, `sha1sums-${file}.txt`]);
  assert.deepEqual(names, [...CONTENT_FILES, ...checksumFiles, ...perFile, ...STATUS_FILES].sort());
  const everything = await listTree(root);
  assert.deepEqual(
    everything.filter((path) => path.includes('inprog')),
    [],
  );
});

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    out.push(path);
    if (entry.isDirectory()) out.push(...(await listTree(path)));
  }
  return out;
}

test('the title lists hold each page before the cutoff once, by namespace then title bytes, under mysql headers, tab and newline escaped', async () => {
  const pages = new Map<number, DumpRevisionRow>();
  for (const row of inputRows()) if (row.revisionTimestampMs < CUTOFF_MS) pages.set(row.pageId, row);
  // Written out by hand rather than through the writer's own helpers: namespace, the title after its prefix, bytewise.
  const expected = [...pages.values()]
    .map((row) => ({ ns: row.pageNamespaceId, title: row.pageNamespaceId === 0 ? row.pageTitle : row.pageTitle.split(':').slice(1).join(':') }))
    .sort((a, b) => a.ns - b.ns || Buffer.compare(Buffer.from(a.title), Buffer.from(b.title)));
  assert.ok(expected.some((t) => t.ns !== 0) && expected.some((t) => t.ns === 0), 'the input has pages in and out of the main namespace');
  const escaped = (title: string) => title.replaceAll('\t', '\\t').replaceAll('\n', '\\n');
  assert.ok(expected.some((t) => escaped(t.title) !== t.title), 'the input has a title that needs escaping');
  const read = (name: string) => gunzipSync(readFileSync(join(runDir(), name))).toString('utf8');
  assert.equal(read('testwiki-20240801-all-titles.gz'), ['page_namespace\tpage_title', ...expected.map((t) => `${t.ns}\t${escaped(t.title)}`)].join('\n') + '\n');
  assert.equal(read('testwiki-20240801-all-titles-in-ns0.gz'), ['page_title', ...expected.filter((t) => t.ns === 0).map((t) => escaped(t.title))].join('\n') + '\n');
  assert.ok(!read('testwiki-20240801-all-titles.gz').includes('AT-THE-CUTOFF'));
});

test('every XML output kind validates against export-0.11.xsd', async () => {
  for (const file of CONTENT_FILES.filter((name) => name.includes('.xml'))) {
    assertValidExport(decompressFile(join(runDir(), file)), file);
  }
});

test('the cutoff is exclusive: history ends before D 00:00 UTC, current holds the latest revision before it, articles no talk or user pages', async () => {
  const history = decompressFile(join(runDir(), 'testwiki-20240801-pages-meta-history.xml.bz2')).toString('utf8');
  assert.ok(history.includes('last before the cutoff'));
  assert.ok(!history.includes('AT-THE-CUTOFF'));
  const current = await readWithMwxml(join(runDir(), 'testwiki-20240801-pages-meta-current.xml.bz2'));
  const currentRevisions = current.filter((line) => line.kind === 'revision').map((line) => [line.pageId, line.id]);
  const latest = new Map<number, DumpRevisionRow>();
  for (const row of inputRows()) {
    if (row.revisionTimestampMs >= CUTOFF_MS) continue;
    const seen = latest.get(row.pageId);
    if (seen === undefined || row.revisionTimestampMs > seen.revisionTimestampMs) latest.set(row.pageId, row);
  }
  const expected = [...latest.values()].sort((a, b) => a.pageId - b.pageId).map((row) => [row.pageId, row.revisionId]);
  assert.deepEqual(currentRevisions, expected);
  assert.ok(expected.some(([page, revision]) => page === 1 && revision === 199));
  const articles = await readWithMwxml(join(runDir(), 'testwiki-20240801-pages-articles.xml.bz2'));
  const articlePages = articles.filter((line) => line.kind === 'page');
  // As Wikimedia's: no talk pages and no user pages; templates, files and the rest are in.
  assert.deepEqual(
    articlePages.map((page) => page.id),
    expected.map(([page]) => page).filter((page) => ![1, 2].includes(latest.get(page!)!.pageNamespaceId)),
  );
  for (const ns of [0, 6, 10, 100]) assert.ok(articlePages.some((page) => page.namespace === ns), `namespace ${ns} is in the articles dumps`);
  assert.ok(!articlePages.some((page) => page.namespace === 1 || page.namespace === 2));
});

test('bz2 pages-articles is one bz2 stream of exactly the multistream XML (joined, not compressed again)', async () => {
  const single = await readFile(join(runDir(), 'testwiki-20240801-pages-articles.xml.bz2'));
  const multistream = decompressFile(join(runDir(), 'testwiki-20240801-pages-articles-multistream.xml.bz2'));
  assert.ok(multistream.length > 0);
  assert.deepEqual(bunzip2OneStream(single), multistream);
});

test('stub-meta-current and stub-articles hold the revisions of pages-meta-current and pages-articles, without text', async () => {
  const ids = (lines: JsonObject[]) => lines.filter((line) => line.kind === 'revision').map((line) => [line.pageId, line.id]);
  for (const [stub, full] of [['stub-meta-current', 'pages-meta-current'], ['stub-articles', 'pages-articles']] as const) {
    const stubLines = await readWithMwxml(join(runDir(), `testwiki-20240801-${stub}.xml.gz`));
    const fullLines = await readWithMwxml(join(runDir(), `testwiki-20240801-${full}.xml.bz2`));
    assert.ok(ids(fullLines).length > 0);
    assert.deepEqual(ids(stubLines), ids(fullLines), `${stub} has the revisions of ${full}`);
    const xml = decompressFile(join(runDir(), `testwiki-20240801-${stub}.xml.gz`)).toString('utf8');
    assert.ok(!xml.includes('xml:space="preserve"'), `${stub} carries no text`);
  }
});

/** XML 1.0 text as a parser returns it after our escaping: forbidden characters are U+FFFD. */
function cleanText(text: string): string {
  let out = '';
  for (const character of text) {
    const code = character.codePointAt(0)!;
    const forbidden = (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0xfffe || code === 0xffff || (code >= 0xd800 && code <= 0xdfff);
    out += forbidden ? '\uFFFD' : character;
  }
  return out;
}

function bodyText(body: string | Uint8Array | null): string | null {
  if (body === null) return null;
  return typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
}

/** What mwxml should report for a row, after redaction. */
function expectedRevision(row: DumpRevisionRow): JsonObject {
  const userKnown = row.userIsVisible && row.userText !== null && row.userText !== '' && (row.userId === null || row.userId >= 0);
  // MediaWiki's rule: <ip> (no user id) only for an IP address; any other name is <username> with id 0.
  const anonymous = userKnown && (row.userId === null || row.userId === 0) && isIP(row.userText!) !== 0;
  const slots: JsonObject = {};
  if (row.revisionContentIsVisible) {
    for (const slot of row.slots) {
      const text = bodyText(slot.contentBody);
      // An unstated content_size is the body's UTF-8 length.
      const size = slot.contentSizeBytes ?? Buffer.byteLength(text ?? '', 'utf8');
      slots[slot.role] = {
        text: size > 0 && text !== null && text !== '' ? cleanText(text) : null,
        bytes: size > 0 ? size : 0,
        // Empty content carries the sha1 of empty content when the row has none.
        sha1: size > 0 ? (slot.contentSha1 ?? '') : slot.contentSha1 || 'phoiac9h4m842xq45sp7s6u21eteeq1',
        model: slot.contentModel,
        format: slot.contentFormat,
        ...(slot.role === 'main' ? {} : { origin: slot.originRevisionId }),
      };
    }
  } else {
    slots.main = { text: null, bytes: -1, sha1: null, model: row.slots.find((slot) => slot.role === 'main')?.contentModel ?? null, format: row.slots.find((slot) => slot.role === 'main')?.contentFormat ?? null };
  }
  return {
    id: row.revisionId,
    parentId: row.revisionParentId !== null && row.revisionParentId > 0 ? row.revisionParentId : null,
    timestamp: new Date(Math.floor(row.revisionTimestampMs / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    userId: userKnown && !anonymous ? (row.userId ?? 0) : null,
    userText: userKnown ? cleanText(row.userText!) : null,
    minor: row.revisionIsMinorEdit,
    comment: row.revisionCommentIsVisible && row.revisionComment !== null && row.revisionComment !== '' ? cleanText(row.revisionComment) : null,
    sha1: row.revisionContentIsVisible && row.revisionSha1 !== null && row.revisionSha1 !== '' ? row.revisionSha1 : null,
    deleted: { text: !row.revisionContentIsVisible, user: !userKnown, comment: !row.revisionCommentIsVisible },
    slots,
  };
}

function observedRevision(line: JsonObject): JsonObject {
  const deleted = line.deleted as JsonObject;
  const slots: JsonObject = {};
  for (const [role, slot] of Object.entries(line.slots as Record<string, JsonObject>)) {
    slots[role] = {
      text: slot.text,
      bytes: slot.bytes,
      sha1: slot.sha1,
      model: slot.model,
      format: slot.format,
      ...(role === 'main' ? {} : { origin: slot.origin }),
    };
  }
  return {
    id: line.id,
    parentId: line.parentId,
    timestamp: line.timestamp,
    userId: line.userId,
    userText: line.userText,
    minor: line.minor,
    comment: line.comment,
    sha1: line.sha1,
    deleted: { text: deleted.text, user: deleted.user, comment: deleted.comment },
    slots,
  };
}

test('mwxml reads pages-meta-history back to the pages and revisions of the input, redacted', async () => {
  const lines = await readWithMwxml(join(runDir(), 'testwiki-20240801-pages-meta-history.xml.bz2'));
  const siteinfo = lines[0]!;
  assert.equal(siteinfo.kind, 'siteinfo');
  assert.equal(siteinfo.dbname, WIKI);
  assert.equal(siteinfo.generator, `mwlake ${GENERATOR_VERSION}`);
  assert.equal((siteinfo.namespaces as unknown[]).length, TEST_SITE.namespaces.length);
  const rows = inputRows()
    .filter((row) => row.revisionTimestampMs < CUTOFF_MS)
    .sort((a, b) => a.pageId - b.pageId || a.revisionId - b.revisionId);
  const pages = lines.filter((line) => line.kind === 'page');
  const expectedPages = [...new Map(rows.map((row) => [row.pageId, row])).values()];
  assert.deepEqual(
    pages.map((page) => ({ id: page.id, namespace: page.namespace, title: page.title, redirect: page.redirect })),
    expectedPages.map((row) => ({
      id: row.pageId,
      namespace: row.pageNamespaceId,
      title: cleanText(row.pageTitle.replaceAll('_', ' ')),
      redirect: row.pageRedirectTarget === null || row.pageRedirectTarget === '' ? null : row.pageRedirectTarget.replaceAll('_', ' '),
    })),
  );
  const revisions = lines.filter((line) => line.kind === 'revision');
  assert.equal(revisions.length, rows.length);
  for (const [index, row] of rows.entries()) {
    const expected = expectedRevision(row);
    const observed = observedRevision(revisions[index]!);
    // Rows without model/format get the documented fallbacks; compare those separately.
    for (const slot of Object.values(expected.slots as Record<string, JsonObject>)) {
      if (slot.model === null) slot.model = 'error-no-model';
      if (slot.format === null) slot.format = slot.model === 'javascript' ? 'text/javascript' : slot.model === 'error-no-model' ? 'application/octet-stream' : null;
    }
    assert.deepEqual(observed, expected, `revision ${row.revisionId}`);
  }
});

/** dumpstatus.json's jobs as `[name, status, updated]`, last job first (legacy's run info order). */
async function statusJobs(dir: string): Promise<string[][]> {
  const status = JSON.parse(await readFile(join(dir, 'dumpstatus.json'), 'utf8')) as { jobs: Record<string, { status: string; updated: string }> };
  return Object.entries(status.jobs).map(([name, job]) => [name, job.status, job.updated]).reverse();
}

/** dumpruninfo.txt's jobs as `[name, status, updated]`, after checking dumpruninfo.json says the same. */
async function runInfoJobs(dir: string): Promise<string[][]> {
  const lines = (await readFile(join(dir, 'dumpruninfo.txt'), 'utf8')).split('\n');
  assert.equal(lines.pop(), '', 'ends in a newline');
  const jobs = lines.map((line) => {
    const match = /^name:([a-z0-9]+); status:([a-z-]+); updated:(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)$/.exec(line);
    assert.ok(match, line);
    return match.slice(1);
  });
  const json = JSON.parse(await readFile(join(dir, 'dumpruninfo.json'), 'utf8')) as { jobs: Record<string, { status: string; updated: string }> };
  assert.deepEqual(Object.entries(json.jobs).map(([name, job]) => [name, job.status, job.updated]), jobs);
  return jobs;
}

test('dumpruninfo.txt and dumpruninfo.json list the jobs of dumpstatus.json, last first, as legacy tools read them', async () => {
  const jobs = await runInfoJobs(runDir());
  assert.deepEqual(jobs, await statusJobs(runDir()));
  assert.equal(jobs.length, 7);
  assert.deepEqual(jobs.at(-1)!.slice(0, 2), ['pagetitlesdump', 'done']);
});

test('checksum files and dumpstatus.json describe every content file with its real size, md5 and sha1', async () => {
  const md5Lines: string[] = [];
  const sha1Lines: string[] = [];
  const status = JSON.parse(await readFile(join(runDir(), 'dumpstatus.json'), 'utf8')) as { version: string; jobs: Record<string, { status: string; updated: string; files: Record<string, { size: number; url: string; md5: string; sha1: string }> }> };
  assert.equal(status.version, '0.8');
  assert.deepEqual(Object.keys(status.jobs), ['pagetitlesdump', 'allpagetitlesdump', 'xmlstubsdump', 'metacurrentdump', 'articlesdump', 'articlesmultistreamdump', 'metahistorybz2dump']);
  const listed = new Map<string, { size: number; url: string; md5: string; sha1: string }>();
  for (const job of Object.values(status.jobs)) {
    assert.equal(job.status, 'done');
    assert.equal(job.updated, '2024-08-01 03:04:05');
    for (const [name, file] of Object.entries(job.files)) listed.set(name, file);
  }
  assert.deepEqual([...listed.keys()].sort(), [...CONTENT_FILES].sort());
  for (const name of [...CONTENT_FILES].sort()) {
    const bytes = await readFile(join(runDir(), name));
    const md5 = createHash('md5').update(bytes).digest('hex');
    const sha1 = createHash('sha1').update(bytes).digest('hex');
    assert.deepEqual(listed.get(name), { size: bytes.length, url: `/testwiki/20240801/${name}`, md5, sha1 });
    md5Lines.push(`${md5}  ${name}\n`);
    sha1Lines.push(`${sha1}  ${name}\n`);
    assert.equal(await readFile(join(runDir(), `md5sums-${name}.txt`), 'utf8'), `${md5}  ${name}\n`);
    assert.equal(await readFile(join(runDir(), `sha1sums-${name}.txt`), 'utf8'), `${sha1}  ${name}\n`);
  }
  assert.equal(await readFile(join(runDir(), 'testwiki-20240801-md5sums.txt'), 'utf8'), md5Lines.join(''));
  assert.equal(await readFile(join(runDir(), 'testwiki-20240801-sha1sums.txt'), 'utf8'), sha1Lines.join(''));
  const md5Json = JSON.parse(await readFile(join(runDir(), 'testwiki-20240801-md5sums.json'), 'utf8')) as { md5: { files: Record<string, string> } };
  assert.deepEqual(md5Json.md5.files, Object.fromEntries([...listed].map(([name, file]) => [name, file.md5])));
  const sha1Json = JSON.parse(await readFile(join(runDir(), 'testwiki-20240801-sha1sums.json'), 'utf8')) as { sha1: { files: Record<string, string> } };
  assert.deepEqual(sha1Json.sha1.files, Object.fromEntries([...listed].map(([name, file]) => [name, file.sha1])));
});

test('dumping the same input twice gives byte-identical files and checksums', async () => {
  const second = await mkdtemp(join(tmpdir(), 'mwlake-dump-rerun-'));
  try {
    await runDump(options({ dumpsRoot: second, linkLatest: false }));
    const names = (await readdir(runDir())).sort();
    assert.deepEqual((await readdir(join(second, WIKI, DATE))).sort(), names);
    for (const name of names) {
      const [a, b] = [await readFile(join(runDir(), name)), await readFile(join(second, WIKI, DATE, name))];
      assert.ok(a.equals(b), `${name} differs between two runs`);
    }
    // Only the status files carry the run time.
    await runDump(options({ dumpsRoot: second, linkLatest: false, now: () => new Date(Date.UTC(2025, 0, 1)) }));
    for (const name of names) {
      const same = (await readFile(join(runDir(), name))).equals(await readFile(join(second, WIKI, DATE, name)));
      assert.equal(same, !STATUS_FILES.includes(name), name);
    }
  } finally {
    await rm(second, { recursive: true, force: true });
  }
});

test('latest/ links every file of the newest complete run and is not moved back by an older one', async () => {
  const latestDir = join(root, WIKI, 'latest');
  const links = (await latestLinks(latestDir)).sort();
  assert.ok(links.includes('testwiki-latest-pages-meta-history.xml.bz2'));
  assert.ok(links.includes('testwiki-latest-md5sums.txt'));
  assert.equal(await readlink(join(latestDir, 'testwiki-latest-pages-articles-multistream-index.txt.bz2')), '../20240801/testwiki-20240801-pages-articles-multistream-index.txt.bz2');
  for (const link of links) assert.ok((await lstat(join(latestDir, link))).isSymbolicLink(), link);
  await inTempDir('mwlake-latest-', async (other) => {
    const newer = await runDump(options({ dumpsRoot: other, date: '20240901' }));
    assert.equal(newer.linkedLatest, true);
    const older = await runDump(options({ dumpsRoot: other, date: '20240801' }));
    assert.equal(older.linkedLatest, false);
    const target = await readlink(join(other, WIKI, 'latest', 'testwiki-latest-pages-meta-history.xml.bz2'));
    assert.equal(target, '../20240901/testwiki-20240901-pages-meta-history.xml.bz2');
    assert.ok((await readFile(join(other, WIKI, 'latest', 'testwiki-latest-pages-meta-history.xml.bz2'))).length > 0, 'the link resolves');
    // The newer run's folder removed by hand: its links dangle and no longer hold latest/.
    await rm(join(other, WIKI, '20240901'), { recursive: true });
    assert.equal(await relinkCompleteRun(other, WIKI, '20240801'), true);
    assert.equal(await readlink(join(other, WIKI, 'latest', 'testwiki-latest-pages-meta-history.xml.bz2')), '../20240801/testwiki-20240801-pages-meta-history.xml.bz2');
    for (const link of await latestLinks(join(other, WIKI, 'latest'))) assert.ok((await readFile(join(other, WIKI, 'latest', link))).length > 0, `${link} resolves`);
  });
});

/** Each latest/ link of a content file and the run its RSS feed names: every link has one feed, no feed outlives its link. */
async function feeds(latestDir: string): Promise<Map<string, string>> {
  const names = await readdir(latestDir);
  const out = new Map<string, string>();
  for (const name of names.filter((n) => n.endsWith('-rss.xml'))) {
    const link = name.slice(0, -'-rss.xml'.length);
    assert.ok(names.includes(link), `${name} has its link`);
    const text = await readFile(join(latestDir, name), 'utf8');
    const lint = spawnSync('xmllint', ['--noout', '-'], { input: text });
    assert.equal(lint.status, 0, `${name}: ${lint.stderr}`);
    out.set(link, /<item>\s*<title>[^<]*<\/title>\s*<link>\/testwiki\/(\d{8})<\/link>/.exec(text)![1]!);
  }
  for (const link of names.filter((n) => !n.endsWith('-rss.xml') && !/sums\.(txt|json)$/.test(n))) assert.ok(out.has(link), `${link} has a feed`);
  return out;
}

test('each latest/ link of a content file has its RSS feed, as legacy writes it, naming the run it links; checksum files have none', async () => {
  const latestDir = join(root, WIKI, 'latest');
  const text = await readFile(join(latestDir, 'testwiki-latest-pages-articles.xml.bz2-rss.xml'), 'utf8');
  assert.equal(
    text,
    [
      '<?xml version="1.0"?>',
      '<rss version="2.0">',
      '\t<channel>',
      '\t\t<title>pages-articles.xml.bz2</title>',
      '\t\t<link>/testwiki/20240801</link>',
      '\t\t<description>Wikimedia dump updates for testwiki</description>',
      '\t\t<item>',
      '\t\t\t<title>/testwiki/20240801</title>',
      '\t\t\t<link>/testwiki/20240801</link>',
      '\t\t\t<description>&lt;a href="/testwiki/20240801/testwiki-20240801-pages-articles.xml.bz2"&gt;testwiki-20240801-pages-articles.xml.bz2&lt;/a&gt;</description>',
      `\t\t\t<pubDate>${FIXED_NOW().toUTCString()}</pubDate>`,
      '\t\t</item>',
      '\t</channel>',
      '</rss>',
    ].join('\n'),
  );
  assert.ok([...(await feeds(latestDir)).values()].every((date) => date === DATE));
  assert.ok(!(await readdir(latestDir)).includes('testwiki-latest-md5sums.txt-rss.xml'));
});

test('zstd, gzip and uncompressed outputs are written with their suffixes and validate', async () => {
  await inTempDir('mwlake-codecs-', async (other) => {
    const result = await runDump(options({ dumpsRoot: other, compression: { history: 'zst', current: 'none', articles: 'gz', stubs: 'bz2' } }));
    const names = result.files.map((file) => file.name);
    assert.deepEqual(names, [
      'testwiki-20240801-all-titles-in-ns0.gz',
      'testwiki-20240801-all-titles.gz',
      'testwiki-20240801-stub-meta-history.xml.bz2',
      'testwiki-20240801-stub-meta-current.xml.bz2',
      'testwiki-20240801-stub-articles.xml.bz2',
      'testwiki-20240801-pages-meta-current.xml',
      'testwiki-20240801-pages-articles.xml.gz',
      'testwiki-20240801-pages-articles-multistream.xml.bz2',
      'testwiki-20240801-pages-articles-multistream-index.txt.bz2',
      'testwiki-20240801-pages-meta-history.xml.zst',
    ]);
    for (const name of names.filter((file) => file.includes('.xml'))) assertValidExport(decompressFile(join(other, WIKI, DATE, name)), name);
    const status = JSON.parse(await readFile(join(other, WIKI, DATE, 'dumpstatus.json'), 'utf8')) as { jobs: Record<string, unknown> };
    assert.ok('metahistoryzstdump' in status.jobs);
    const history = decompressFile(join(other, WIKI, DATE, 'testwiki-20240801-pages-meta-history.xml.zst'));
    const reference = decompressFile(join(runDir(), 'testwiki-20240801-pages-meta-history.xml.bz2'));
    assert.ok(history.equals(reference), 'the XML does not depend on the codec');
  });
});

/** A run folder as a reader sees it: its file names, and the text of its status and checksum files. */
async function runFolderState(dir: string): Promise<{ names: string[]; texts: Record<string, string> }> {
  const names = (await readdir(dir)).sort();
  const texts: Record<string, string> = {};
  for (const name of names.filter((n) => n === 'dumpstatus.json' || n.startsWith('dumpruninfo') || /sums\.(txt|json)$/.test(n))) texts[name] = await readFile(join(dir, name), 'utf8');
  return { names, texts };
}

/** A source whose title list read fails: the history outputs publish first, then the run fails. */
function failingTitles(inner: DumpSource): DumpSource {
  return {
    history: (query) => inner.history(query),
    revisionsInIdRange: (...args) => inner.revisionsInIdRange(...args),
    maxRevisionId: (...args) => inner.maxRevisionId(...args),
    pageTitles: () => ({
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('title read failed')) }),
    }),
  };
}

/** A source whose history fails after some rows, like a query that dies midway. */
class FailingSource implements DumpSource {
  constructor(private readonly inner: DumpSource) {}
  async *history(query: DumpQuery): AsyncIterable<DumpRevisionRow> {
    let count = 0;
    for await (const row of this.inner.history(query)) {
      if (++count === 5 && query.includeContent) throw new Error('state table read failed');
      yield row;
    }
  }
  revisionsInIdRange(wikiId: string, after: number, upTo: number, includeContent: boolean) {
    return this.inner.revisionsInIdRange(wikiId, after, upTo, includeContent);
  }
  maxRevisionId(wikiId: string, cutoffMs: number) {
    return this.inner.maxRevisionId(wikiId, cutoffMs);
  }
  pageTitles(wikiId: string, cutoffMs: number) {
    return this.inner.pageTitles(wikiId, cutoffMs);
  }
}

test('a read that fails midway fails every job of the pass, leaves no in-progress or content files, and does not move latest/', async () => {
  await inTempDir('mwlake-failing-', async (other) => {
    const source = new FailingSource(new MemoryDumpSource({ [WIKI]: inputRows() }));
    await assert.rejects(runDump(options({ dumpsRoot: other, source })), /state table read failed/);
    const names = await readdir(join(other, WIKI, DATE));
    assert.deepEqual(names.sort(), STATUS_FILES, 'no content, in-progress or checksum files');
    const status = JSON.parse(await readFile(join(other, WIKI, DATE, 'dumpstatus.json'), 'utf8')) as { jobs: Record<string, { status: string }> };
    assert.deepEqual(
      Object.values(status.jobs).map((job) => job.status),
      ['failed', 'failed', 'failed', 'failed', 'failed', 'failed', 'failed'],
    );
    assert.deepEqual(await runInfoJobs(join(other, WIKI, DATE)), await statusJobs(join(other, WIKI, DATE)));
    await assert.rejects(latestLinks(join(other, WIKI, 'latest')), { code: 'ENOENT' });
  });
});

test('rerunning the newest date keeps every latest/ link readable while it writes; a rerun that fails before publishing leaves the date as it was', async () => {
  await inTempDir('mwlake-rerun-latest-', async (other) => {
    await runDump(options({ dumpsRoot: other }));
    const latestDir = join(other, WIKI, 'latest');
    const links = await latestLinks(latestDir);
    assert.ok(links.length >= 8, links.join(' '));
    let checked = 0;
    // Halfway through the rerun's read, every link still leads to a complete file.
    const checking: DumpSource = {
      history: async function* (query: DumpQuery) {
        let count = 0;
        for await (const row of new MemoryDumpSource({ [WIKI]: inputRows() }).history(query)) {
          if (++count === 5) {
            for (const link of links) await access(join(latestDir, link));
            checked++;
          }
          yield row;
        }
      },
      revisionsInIdRange: () => { throw new Error('not used'); },
      maxRevisionId: async () => null,
      pageTitles: (wikiId: string, cutoffMs: number) => new MemoryDumpSource({ [WIKI]: inputRows() }).pageTitles(wikiId, cutoffMs),
    };
    await runDump(options({ dumpsRoot: other, source: checking }));
    assert.equal(checked, 1);
    assert.deepEqual((await latestLinks(latestDir)).sort(), [...links].sort());
    // A rerun that fails midway through its read published nothing: the earlier run stays whole,
    // status, checksums and latest/ links too.
    const before = await runFolderState(join(other, WIKI, DATE));
    // A part a rerun killed outright (SIGKILL) left in progress: no status lists it, so it goes.
    await writeFile(join(other, WIKI, DATE, 'testwiki-20240801-pages-meta-history3.xml.bz2.inprog'), 'part');
    await assert.rejects(runDump(options({ dumpsRoot: other, source: new FailingSource(new MemoryDumpSource({ [WIKI]: inputRows() })) })), /state table read failed/);
    assert.deepEqual(await runFolderState(join(other, WIKI, DATE)), before);
    assert.deepEqual((await latestLinks(latestDir)).sort(), [...links].sort());
    for (const link of links) await access(join(latestDir, link));
  });
});

test('a rerun of the newest date stopped by SIGTERM before it published anything leaves the earlier run whole, latest/ links and status too, by the time its cleanup returns', async () => {
  await inTempDir('mwlake-rerun-sigterm-', async (other) => {
    await runDump(options({ dumpsRoot: other }));
    const before = await runFolderState(join(other, WIKI, DATE));
    const latestDir = join(other, WIKI, 'latest');
    let reached!: () => void;
    const atRow = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // The read stops halfway until the test lets it go: the outputs are being written when SIGTERM comes.
    const stalled: DumpSource = {
      history: async function* (query: DumpQuery) {
        let count = 0;
        for await (const row of new MemoryDumpSource({ [WIKI]: inputRows() }).history(query)) {
          if (++count === 5) {
            reached();
            await released;
          }
          yield row;
        }
      },
      revisionsInIdRange: () => { throw new Error('not used'); },
      maxRevisionId: async () => null,
      pageTitles: (wikiId: string, cutoffMs: number) => new MemoryDumpSource({ [WIKI]: inputRows() }).pageTitles(wikiId, cutoffMs),
    };
    const rerun = runDump(options({ dumpsRoot: other, source: stalled }));
    rerun.catch(() => {});
    await atRow;
    // What the CLI does on SIGTERM before it exits.
    assert.equal(await runInterruptCleanups('SIGTERM', 20_000), true);
    for (const link of await latestLinks(latestDir)) await access(join(latestDir, link));
    // Stopped before any output published: the earlier run is as it was, its status too.
    assert.deepEqual(await runFolderState(join(other, WIKI, DATE)), before);
    release();
    await assert.rejects(rerun, /stopped by SIGTERM/);
  });
});

test('a source that breaks the sort order is rejected with a DATA error naming the rows', async () => {
  await inTempDir('mwlake-unsorted-', async (other) => {
    const rows = inputRows();
    const unsorted: DumpSource = new (class extends MemoryDumpSource {
      override async *history(): AsyncIterable<DumpRevisionRow> {
        yield rows.find((row) => row.revisionId === 11)!;
        yield rows.find((row) => row.revisionId === 10)!;
      }
    })({ [WIKI]: rows });
    await assert.rejects(runDump(options({ dumpsRoot: other, source: unsorted })), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'DATA');
      assert.match(error.message, /sorted by page id then revision id; found page 1 revision 10 after page 1 revision 11/);
      return true;
    });
  });
});

test('rerunning a date that an earlier run split into more parts (or wrote the older checksum names) leaves only the new files', async () => {
  await inTempDir('mwlake-resplit-', async (other) => {
    const split = await runDump(options({ dumpsRoot: other, maxPartBytes: 3000, linkLatest: false }));
    assert.ok(split.files.some((file) => /pages-meta-history3\.xml-p\d+p\d+\.bz2$/.test(file.name)), 'the first run writes parts');
    // A per-file checksum in the form earlier mwlake versions wrote (<wiki>-<date>-md5sums-<file>.txt).
    await writeFile(join(other, WIKI, DATE, `${WIKI}-${DATE}-md5sums-${split.files[0]!.name}.txt`), 'old\n');
    await runDump(options({ dumpsRoot: other, linkLatest: false }));
    assert.deepEqual((await readdir(join(other, WIKI, DATE))).sort(), (await readdir(runDir())).sort());
  });
});

test('a rerun of the newest date that splits differently keeps every latest/ link readable until it relinks them', async () => {
  await inTempDir('mwlake-resplit-latest-', async (other) => {
    const dir = join(other, WIKI, DATE);
    // A zstd that waits while the hold file exists: pages-meta-current (zst here) ends after the others.
    const hold = join(other, 'hold');
    const script = join(other, 'zstd-held.sh');
    await writeFile(script, `#!/bin/sh\ni=0; while [ -e "${hold}" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done\nexec "${tools.zstd}" "$@"\n`, { mode: 0o755 });
    const run = (maxPartBytes: number) => runDump(options({ dumpsRoot: other, maxPartBytes, compression: { current: 'zst' }, tools: { ...tools, zstd: script } }));
    const split = await run(3000);
    assert.ok(split.files.some((file) => /pages-meta-history3\.xml-p\d+p\d+\.bz2$/.test(file.name)), 'the first run writes parts');
    const latestDir = join(other, WIKI, 'latest');
    const links = await latestLinks(latestDir);
    await writeFile(hold, '');
    const rerun = run(Infinity);
    rerun.catch(() => {});
    try {
      // The rerun has published its one pages-meta-history file; pages-meta-current is still being written.
      await eventually('the new pages-meta-history', () => readdir(dir), (names) => names.includes('testwiki-20240801-pages-meta-history.xml.bz2'));
      for (const link of links) await access(join(latestDir, link));
    } finally {
      await rm(hold, { force: true });
      await rerun.catch(() => undefined);
    }
    await rerun;
    const names = await readdir(dir);
    assert.deepEqual(names.filter((name) => /-p\d+p\d+\./.test(name)), [], 'the parts of the first run are gone');
    for (const link of await latestLinks(latestDir)) await access(join(latestDir, link));
    assert.ok((await latestLinks(latestDir)).includes('testwiki-latest-pages-meta-history.xml.bz2'));
  });
});

test('titles never become paths: only the run and latest folders appear, and bad wiki ids or dates are refused', async () => {
  // The input has a page titled "A&B_<C>_\"D\"_'E'_../../etc/passwd_%2F_:_;".
  assert.ok(inputRows().some((row) => row.pageTitle.includes('../../etc/passwd')));
  assert.deepEqual(await readdir(root), [WIKI]);
  assert.deepEqual((await readdir(join(root, WIKI))).sort(), [DATE, 'latest']);
  for (const wikiId of ['../evil', 'en/wiki', 'EnWiki', '']) {
    await assert.rejects(runDump(options({ wikiId })), (error: Error & { code?: string }) => error.code === 'USAGE' && /invalid wiki id/.test(error.message));
  }
  for (const date of ['2024-08-01', '20240230', '2024081', '../20240801']) {
    await assert.rejects(runDump(options({ date })), (error: Error & { code?: string }) => error.code === 'USAGE' && /invalid dump date/.test(error.message));
  }
  assert.deepEqual(await readdir(root), [WIKI]);
});

test('a status write failing after the history pass stops the title lists, as a failed output does, instead of letting them run on', { timeout: 60_000 }, async () => {
  await inTempDir('mwlake-late-stop-', async (other) => {
    const statusPath = join(other, WIKI, DATE, 'dumpstatus.json');
    const inner = new MemoryDumpSource({ [WIKI]: inputRows() });
    let armed = false;
    // The first status write after the history read (an output marked done) cannot create its temp file.
    const now = () => {
      if (armed) {
        mkdirSync(`${statusPath}.inprog`);
        armed = false;
      }
      return FIXED_NOW();
    };
    const source: DumpSource = {
      history: async function* (query) {
        yield* inner.history(query);
        armed = true;
      },
      revisionsInIdRange: (...args) => inner.revisionsInIdRange(...args),
      maxRevisionId: (...args) => inner.maxRevisionId(...args),
      // A title read that never ends (a long sort): only the run's stop ends the title lists.
      pageTitles: () => ({ [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<PageTitle>>(() => {}) }) }),
    };
    await assert.rejects(runDump(options({ dumpsRoot: other, source, now })), (e: unknown) => (e as { code?: string }).code === 'STORAGE' || /EISDIR|EEXIST/.test(String(e)));
    assert.equal(armed, false, 'a status write was made to fail');
  });
});

test('one pass over the history feeds every output: the source is read once per run', async () => {
  await inTempDir('mwlake-one-pass-', async (other) => {
    const inner = new MemoryDumpSource({ [WIKI]: inputRows() });
    const reads: DumpQuery[] = [];
    const counting: DumpSource = {
      history: (query) => (reads.push(query), inner.history(query)),
      revisionsInIdRange: (...args) => inner.revisionsInIdRange(...args),
      maxRevisionId: (...args) => inner.maxRevisionId(...args),
      pageTitles: (...args) => (reads.push({ wikiId: args[0], cutoffMs: args[1], includeContent: false }), inner.pageTitles(...args)),
    };
    const result = await runDump(options({ dumpsRoot: other, source: counting }));
    // The history once, then the title lists' one read of the pages.
    assert.deepEqual(reads, [{ wikiId: WIKI, cutoffMs: CUTOFF_MS, includeContent: true }, { wikiId: WIKI, cutoffMs: CUTOFF_MS, includeContent: false }]);
    for (const file of result.files) {
      const reference = await readFile(join(runDir(), file.name));
      assert.ok(reference.equals(await readFile(join(other, WIKI, DATE, file.name))), `${file.name} equals the reference run's`);
    }
  });
});

test("one output's compressor failing fails the run with that output's error; outputs still running are removed, finished ones kept", async () => {
  await inTempDir('mwlake-one-fails-', async (other) => {
    const broken = { ...tools, zstd: '/bin/false' };
    await assert.rejects(runDump(options({ dumpsRoot: other, tools: broken, compression: { history: 'zst' } })), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'STORAGE');
      assert.match(error.message, /\/bin\/false -T\d+ -3 -c -q for .*pages-meta-history.* ended with 1/);
      return true;
    });
    const names = await readdir(join(other, WIKI, DATE));
    assert.deepEqual(names.filter((name) => name.includes('inprog') || name.includes('pages-meta-history')), []);
    const status = JSON.parse(await readFile(join(other, WIKI, DATE, 'dumpstatus.json'), 'utf8')) as { jobs: Record<string, { status: string; files: unknown }> };
    assert.equal(status.jobs.metahistoryzstdump!.status, 'failed');
    for (const [name, job] of Object.entries(status.jobs)) assert.ok(job.status === 'done' || job.status === 'failed', `${name} is ${job.status}`);
    // A job that finished keeps its files; one that was stopped leaves nothing.
    const doneFiles = Object.values(status.jobs).flatMap((job) => Object.keys(job.files as Record<string, unknown>));
    const contentFiles = names.filter((name) => !name.includes('sums') && !STATUS_FILES.includes(name));
    assert.deepEqual(contentFiles.sort(), doneFiles.sort());
    await assert.rejects(latestLinks(join(other, WIKI, 'latest')), { code: 'ENOENT' });
  });
});

test('a checksum file that cannot be written fails the run only once every output has stopped, and no job stays in progress', async () => {
  await inTempDir('mwlake-bookkeeping-fails-', async (other) => {
    const dir = join(other, WIKI, DATE);
    // A folder where the checksum file's temp file goes: its write fails as on a full disk.
    const obstacle = 'testwiki-20240801-md5sums.txt.inprog';
    await mkdir(join(dir, obstacle), { recursive: true });
    await assert.rejects(runDump(options({ dumpsRoot: other })), { code: 'STORAGE_REFUSED', message: /md5sums\.txt: EISDIR/ });
    const names = await readdir(dir);
    assert.deepEqual(names.filter((name) => name.endsWith('.inprog') && name !== obstacle), [], 'no output still being written');
    const status = JSON.parse(await readFile(join(dir, 'dumpstatus.json'), 'utf8')) as { jobs: Record<string, { status: string; files: object }> };
    for (const [name, job] of Object.entries(status.jobs)) assert.deepEqual([name, job.status, job.files], [name, 'failed', {}]);
    await assert.rejects(latestLinks(join(other, WIKI, 'latest')), { code: 'ENOENT' });
  });
});

test('files of a job that failed are in no checksum file, even those of its outputs that finished', async () => {
  await inTempDir('mwlake-stubs-half-', async (other) => {
    const dir = join(other, WIKI, DATE);
    const current = 'testwiki-20240801-stub-meta-current.xml.zst';
    // A zstd that fails on stub-meta-history (the only stub file with this superseded revision's
    // comment), once stub-meta-current of the same job has finished and had its checksums written.
    const script = join(other, 'zstd-failing-history.sh');
    await writeFile(
      script,
      `#!/bin/sh\nin=$(mktemp)\ncat > "$in"\nif grep -q SUPERSEDED-MARK "$in"; then\n` +
        `  i=0; while [ ! -e "${dir}/md5sums-${current}.txt" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done\n` +
        `  rm -f "$in"; echo "stub-meta-history refused" >&2; exit 1\nfi\n"${tools.zstd}" "$@" < "$in"; s=$?; rm -f "$in"; exit $s\n`,
      { mode: 0o755 },
    );
    const rows = inputRows().map((row) => (row.revisionId === 14 ? { ...row, revisionComment: 'SUPERSEDED-MARK' } : row));
    await assert.rejects(
      runDump(options({ dumpsRoot: other, source: new MemoryDumpSource({ [WIKI]: rows }), compression: { stubs: 'zst' }, tools: { ...tools, zstd: script } })),
      /stub-meta-history refused/,
    );
    const names = await readdir(dir);
    assert.ok(names.includes(current), 'the stub output that finished keeps its file');
    const status = JSON.parse(await readFile(join(dir, 'dumpstatus.json'), 'utf8')) as { jobs: Record<string, { status: string; files: Record<string, unknown> }> };
    assert.equal(status.jobs.xmlstubsdump!.status, 'failed');
    const doneFiles = Object.values(status.jobs).flatMap((job) => (job.status === 'done' ? Object.keys(job.files) : []));
    for (const sums of [`${WIKI}-${DATE}-md5sums.txt`, `${WIKI}-${DATE}-sha1sums.txt`]) {
      const listed = (await readFile(join(dir, sums), 'utf8')).trim().split('\n').map((line) => line.split('  ')[1]);
      assert.deepEqual(listed.sort(), doneFiles.sort(), `${sums} lists the files of the done jobs only`);
    }
    assert.deepEqual(names.filter((name) => name.endsWith(`-${current}.txt`)), [], 'no per-file checksum of a file of a failed job');
  });
});

test('a run of some jobs rewrites only their files, keeps the others and their status, and links latest/ once every job is done', async () => {
  await inTempDir('mwlake-some-jobs-', async (other) => {
    const dir = join(other, WIKI, DATE);
    const readStatus = async () => JSON.parse(await readFile(join(dir, 'dumpstatus.json'), 'utf8')) as { jobs: Record<string, { status: string; updated: string; files: Record<string, unknown> }> };
    const history = await runDump(options({ dumpsRoot: other, jobs: ['metahistorybz2dump'], now: () => new Date(Date.UTC(2024, 7, 1, 1)) }));
    assert.deepEqual(history.files.map((file) => file.name), ['testwiki-20240801-pages-meta-history.xml.bz2']);
    assert.equal(history.complete, false);
    assert.equal(history.linkedLatest, false);
    await assert.rejects(latestLinks(join(other, WIKI, 'latest')), { code: 'ENOENT' });
    let status = await readStatus();
    assert.deepEqual(
      Object.entries(status.jobs).map(([name, job]) => [name, job.status]),
      [['pagetitlesdump', 'waiting'], ['allpagetitlesdump', 'waiting'], ['xmlstubsdump', 'waiting'], ['metacurrentdump', 'waiting'], ['articlesdump', 'waiting'], ['articlesmultistreamdump', 'waiting'], ['metahistorybz2dump', 'done']],
    );
    assert.equal(await readFile(join(dir, 'testwiki-20240801-md5sums.txt'), 'utf8'), await readFile(join(dir, 'md5sums-testwiki-20240801-pages-meta-history.xml.bz2.txt'), 'utf8'));

    // The other jobs: the date is complete, every file equals the one-run reference, and the history keeps its own time.
    const rest = await runDump(options({ dumpsRoot: other, jobs: ['pagetitlesdump', 'allpagetitlesdump', 'xmlstubsdump', 'metacurrentdump', 'articlesdump', 'articlesmultistreamdump'] }));
    assert.equal(rest.complete, true);
    assert.equal(rest.linkedLatest, true);
    assert.ok(!rest.files.some((file) => file.name.includes('pages-meta-history')));
    const names = (await readdir(dir)).sort();
    assert.deepEqual(names, (await readdir(runDir())).sort());
    for (const name of names.filter((n) => !STATUS_FILES.includes(n))) {
      assert.ok((await readFile(join(dir, name))).equals(await readFile(join(runDir(), name))), `${name} equals the reference run's`);
    }
    status = await readStatus();
    assert.ok(Object.values(status.jobs).every((job) => job.status === 'done'));
    assert.equal(status.jobs.metahistorybz2dump!.updated, '2024-08-01 01:00:00');
    assert.equal(status.jobs.xmlstubsdump!.updated, '2024-08-01 03:04:05');
    assert.deepEqual((await latestLinks(join(other, WIKI, 'latest'))).sort(), (await latestLinks(join(root, WIKI, 'latest'))).sort());

    // A job a dead run left in-progress is not running any more: a run of another job records it failed.
    const stuck = await readStatus();
    stuck.jobs.metacurrentdump!.status = 'in-progress';
    await writeFile(join(dir, 'dumpstatus.json'), JSON.stringify(stuck));
    const again = await runDump(options({ dumpsRoot: other, jobs: ['xmlstubsdump'] }));
    assert.equal(again.complete, false);
    status = await readStatus();
    assert.equal(status.jobs.metacurrentdump!.status, 'failed');
    assert.deepEqual(status.jobs.metacurrentdump!.files, {});
    assert.ok(!(await readFile(join(dir, 'testwiki-20240801-md5sums.txt'), 'utf8')).includes('pages-meta-current'), 'checksums list only files of done jobs');

    // pages-articles without the multistream it is usually joined from: compressed on its own, the same XML.
    const articles = await runDump(options({ dumpsRoot: other, jobs: ['articlesdump'] }));
    const name = 'testwiki-20240801-pages-articles.xml.bz2';
    assert.deepEqual(articles.files.map((file) => file.name), [name]);
    assert.ok(decompressFile(join(dir, name)).equals(decompressFile(join(runDir(), name))));
  });
});

/** A complete run of the date as an mwlake before the title lists left it: no title jobs in its status, no title files. */
async function dumpedBeforeTitleLists(dumpsRoot: string): Promise<string> {
  await runDump(options({ dumpsRoot }));
  const dir = join(dumpsRoot, WIKI, DATE);
  const status = JSON.parse(await readFile(join(dir, 'dumpstatus.json'), 'utf8')) as { jobs: Record<string, unknown> };
  delete status.jobs['pagetitlesdump'];
  delete status.jobs['allpagetitlesdump'];
  await writeFile(join(dir, 'dumpstatus.json'), JSON.stringify(status));
  for (const name of await readdir(dir)) if (name.includes('all-titles')) await rm(join(dir, name));
  return dir;
}

test('a date dumped before the title lists existed stays complete; a run of their jobs adds them and keeps the rest', async () => {
  await inTempDir('mwlake-titles-upgrade-', async (other) => {
    const dir = await dumpedBeforeTitleLists(other);
    assert.equal(isCompleteRunStatus(await readFile(join(dir, 'dumpstatus.json'), 'utf8')), true);
    const before = await readFile(join(dir, 'testwiki-20240801-pages-meta-history.xml.bz2'));
    const added = await runDump(options({ dumpsRoot: other, jobs: ['pagetitlesdump', 'allpagetitlesdump'] }));
    assert.deepEqual(added.files.map((file) => file.name), ['testwiki-20240801-all-titles-in-ns0.gz', 'testwiki-20240801-all-titles.gz']);
    assert.equal(added.complete, true);
    assert.ok((await readFile(join(dir, 'testwiki-20240801-pages-meta-history.xml.bz2'))).equals(before), 'the kept jobs are not rewritten');
    assert.deepEqual((await readdir(dir)).sort(), (await readdir(runDir())).sort());
    assert.equal(await readFile(join(dir, 'testwiki-20240801-md5sums.txt'), 'utf8'), await readFile(join(runDir(), 'testwiki-20240801-md5sums.txt'), 'utf8'));
    assert.ok((await latestLinks(join(other, WIKI, 'latest'))).includes('testwiki-latest-all-titles.gz'));
  });
});

test('on a date dumped before the title lists, a run of other jobs leaves them out: the date stays complete and is not redone', async () => {
  await inTempDir('mwlake-titles-old-', async (other) => {
    const dir = await dumpedBeforeTitleLists(other);
    const rerun = await runDump(options({ dumpsRoot: other, jobs: ['metahistorybz2dump'] }));
    assert.equal(rerun.complete, true);
    const after = await readFile(join(dir, 'dumpstatus.json'), 'utf8');
    assert.equal(isCompleteRunStatus(after), true);
    assert.deepEqual(Object.keys((JSON.parse(after) as { jobs: object }).jobs), ['xmlstubsdump', 'metacurrentdump', 'articlesdump', 'articlesmultistreamdump', 'metahistorybz2dump']);
  });
});

test('a rerun that fails before anything is published keeps the earlier run\'s title lists; one stopped while they sort, after the history published, removes them and their latest/ links, and ends at once', async () => {
  await inTempDir('mwlake-titles-fail-', async (other) => {
    await runDump(options({ dumpsRoot: other }));
    const dir = join(other, WIKI, DATE);
    const latestDir = join(other, WIKI, 'latest');
    assert.ok((await latestLinks(latestDir)).includes('testwiki-latest-all-titles.gz'));
    const before = await runFolderState(dir);
    // A list a run killed outright left in progress: removed with the run's restore.
    await writeFile(join(dir, 'testwiki-20240801-all-titles.gz.inprog'), 'list');
    await assert.rejects(runDump(options({ dumpsRoot: other, source: new FailingSource(new MemoryDumpSource({ [WIKI]: inputRows() })) })), /state table read failed/);
    assert.deepEqual(await runFolderState(dir), before);
    assert.ok((await latestLinks(latestDir)).includes('testwiki-latest-all-titles.gz'));

    // The history read is over; the title lists' source sorts and does not answer: SIGTERM's cleanup still returns.
    const inner = new MemoryDumpSource({ [WIKI]: inputRows() });
    let sorting!: () => void;
    const atSort = new Promise<void>((resolve) => (sorting = resolve));
    const stalled: DumpSource = {
      history: (query) => inner.history(query),
      revisionsInIdRange: (...args) => inner.revisionsInIdRange(...args),
      maxRevisionId: (...args) => inner.maxRevisionId(...args),
      pageTitles: () => ({
        [Symbol.asyncIterator]: () => ({
          next: () => (sorting(), new Promise<IteratorResult<PageTitle>>(() => {})),
          return: async () => ({ done: true as const, value: undefined }),
        }),
      }),
    };
    const run = runDump(options({ dumpsRoot: other, source: stalled }));
    run.catch(() => {});
    await atSort;
    assert.equal(await runInterruptCleanups('SIGTERM', 20_000), true);
    const status = JSON.parse(await readFile(join(dir, 'dumpstatus.json'), 'utf8')) as { jobs: Record<string, { status: string }> };
    assert.equal(status.jobs['pagetitlesdump']!.status, 'failed');
    assert.equal(status.jobs['allpagetitlesdump']!.status, 'failed');
    assert.ok(!Object.values(status.jobs).some((job) => job.status === 'in-progress'));
    assert.deepEqual((await readdir(dir)).filter((name) => name.includes('all-titles') || name.endsWith('.inprog')), []);
    for (const link of await latestLinks(latestDir)) await access(join(latestDir, link));
    assert.ok(!(await latestLinks(latestDir)).some((name) => name.includes('all-titles')));
    await assert.rejects(run, /stopped by SIGTERM/);
  });
});

test('a failed job is rerun alone: the date completes without rewriting the jobs that finished', async () => {
  await inTempDir('mwlake-rerun-failed-', async (other) => {
    const dir = join(other, WIKI, DATE);
    await assert.rejects(runDump(options({ dumpsRoot: other, tools: { ...tools, zstd: '/bin/false' }, compression: { history: 'zst' } })));
    const before = new Map<string, Buffer>();
    for (const name of await readdir(dir)) if (name.includes('stub-')) before.set(name, await readFile(join(dir, name)));
    assert.ok(before.size > 0);
    const rerun = await runDump(options({ dumpsRoot: other, compression: { history: 'zst' }, jobs: ['metahistoryzstdump'], now: () => new Date(Date.UTC(2024, 7, 2)) }));
    assert.equal(rerun.complete, true);
    assert.equal(rerun.linkedLatest, true);
    assert.deepEqual(rerun.files.map((file) => file.name), ['testwiki-20240801-pages-meta-history.xml.zst']);
    for (const [name, bytes] of before) assert.ok(bytes.equals(await readFile(join(dir, name))), `${name} kept`);
    const status = JSON.parse(await readFile(join(dir, 'dumpstatus.json'), 'utf8')) as { jobs: Record<string, { status: string; updated: string }> };
    assert.equal(status.jobs.metahistoryzstdump!.updated, '2024-08-02 00:00:00');
    assert.equal(status.jobs.xmlstubsdump!.updated, '2024-08-01 03:04:05');
    const md5 = await readFile(join(dir, 'testwiki-20240801-md5sums.txt'), 'utf8');
    assert.equal(md5.trim().split('\n').length, CONTENT_FILES.length);
  });
});

test('an unknown or empty job list is refused with USAGE naming the jobs, before anything is written', async () => {
  await inTempDir('mwlake-bad-jobs-', async (other) => {
    await assert.rejects(runDump(options({ dumpsRoot: other, jobs: ['metahistorybz2dump', 'metahistory7zdump'] })), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'USAGE');
      assert.match(error.message, /unknown dump job "metahistory7zdump": the jobs are pagetitlesdump, allpagetitlesdump, xmlstubsdump, metacurrentdump, articlesdump, articlesmultistreamdump, metahistorybz2dump/);
      return true;
    });
    await assert.rejects(runDump(options({ dumpsRoot: other, jobs: [] })), (error: Error & { code?: string }) => error.code === 'USAGE' && /no dump job chosen/.test(error.message));
    // The history job's name follows its codec.
    await assert.rejects(runDump(options({ dumpsRoot: other, jobs: ['metahistorybz2dump'], compression: { history: 'zst' } })), /unknown dump job "metahistorybz2dump".*metahistoryzstdump/);
    assert.deepEqual(await readdir(other), []);
  });
});

test('a job rerun that fails before publishing leaves a complete date as it was; one that fails after publishing takes the failed job\'s old files out of the checksums and latest/, and keeps the rest', async () => {
  await inTempDir('mwlake-rerun-fails-', async (other) => {
    const dir = join(other, WIKI, DATE);
    const titles = 'testwiki-20240801-all-titles.gz';
    assert.equal((await runDump(options({ dumpsRoot: other }))).linkedLatest, true);
    const before = await runFolderState(dir);
    const linksBefore = await latestLinks(join(other, WIKI, 'latest'));
    await assert.rejects(runDump(options({ dumpsRoot: other, jobs: ['metahistorybz2dump'], tools: { ...tools, bzip2: { command: '/bin/false', parallel: false } } })), /\/bin\/false/);
    assert.deepEqual(await runFolderState(dir), before, 'its compressor failed before it published: the date is as it was');
    assert.deepEqual(await latestLinks(join(other, WIKI, 'latest')), linksBefore);
    // The history publishes, then the title lists' read fails.
    await assert.rejects(runDump(options({ dumpsRoot: other, jobs: ['metahistorybz2dump', 'allpagetitlesdump'], source: failingTitles(new MemoryDumpSource({ [WIKI]: inputRows() })) })), /title read failed/);
    const names = await readdir(dir);
    assert.deepEqual(names.filter((name) => name.includes('all-titles.gz')), [], 'no list file, and no per-file checksum of it');
    for (const sums of ['testwiki-20240801-md5sums.txt', 'testwiki-20240801-sha1sums.json']) {
      const text = await readFile(join(dir, sums), 'utf8');
      assert.ok(!text.includes(titles), `${sums} no longer lists the title list`);
      assert.ok(text.includes('testwiki-20240801-pages-meta-history.xml.bz2'), `${sums} lists the history this run wrote`);
      assert.ok(text.includes('testwiki-20240801-pages-meta-current.xml.bz2'), `${sums} still lists the kept files`);
    }
    const links = await latestLinks(join(other, WIKI, 'latest'));
    assert.ok(!links.includes('testwiki-latest-all-titles.gz'), 'no dangling latest/ link');
    assert.ok(links.includes('testwiki-latest-pages-meta-current.xml.bz2'));
    const status = JSON.parse(await readFile(join(dir, 'dumpstatus.json'), 'utf8')) as { jobs: Record<string, { status: string }> };
    assert.equal(status.jobs.allpagetitlesdump!.status, 'failed');
    assert.equal(status.jobs.metahistorybz2dump!.status, 'done');
    assert.equal(status.jobs.metacurrentdump!.status, 'done');
    // The rerun that works completes the date again.
    assert.equal((await runDump(options({ dumpsRoot: other, jobs: ['allpagetitlesdump'] }))).linkedLatest, true);
    assert.deepEqual((await readdir(dir)).sort(), (await readdir(runDir())).sort());
  });
});

test('a failed rerun of the newest date points latest/ back at the newest other complete run, every file of it; without one its surviving files stay linked', async () => {
  await inTempDir('mwlake-rerun-fallback-', async (other) => {
    const latestDir = join(other, WIKI, 'latest');
    const linked = async () => new Map(await Promise.all((await latestLinks(latestDir)).map(async (name) => [name, await readlink(join(latestDir, name))] as const)));
    assert.equal((await runDump(options({ dumpsRoot: other, date: '20240731' }))).linkedLatest, true);
    const earlier = await linked();
    assert.equal((await runDump(options({ dumpsRoot: other }))).linkedLatest, true);
    assert.ok([...(await linked()).values()].every((target) => target.startsWith(`../${DATE}/`)));
    // Failed after its history published: the date is not complete any more.
    await assert.rejects(runDump(options({ dumpsRoot: other, jobs: ['metahistorybz2dump', 'allpagetitlesdump'], source: failingTitles(new MemoryDumpSource({ [WIKI]: inputRows() })) })), /title read failed/);
    assert.deepEqual(await linked(), earlier, 'latest/ is the earlier run, link for link');
    for (const name of earlier.keys()) await access(join(latestDir, name));
    assert.ok([...(await feeds(latestDir)).values()].every((date) => date === '20240731'), 'the feeds name the earlier run again');
    // The rerun that works takes latest/ again.
    assert.equal((await runDump(options({ dumpsRoot: other, jobs: ['allpagetitlesdump'] }))).linkedLatest, true);
    assert.ok([...(await linked()).values()].every((target) => target.startsWith(`../${DATE}/`)));
  });
});

test('a rerun of the newest date whose last status write fails gives latest/ to the newest other complete run: the date is as complete as its dumpstatus.json says', async () => {
  await inTempDir('mwlake-last-status-', async (other) => {
    const latestDir = join(other, WIKI, 'latest');
    const linked = async () => new Map(await Promise.all((await latestLinks(latestDir)).map(async (name) => [name, await readlink(join(latestDir, name))] as const)));
    await runDump(options({ dumpsRoot: other, date: '20240731' }));
    const earlier = await linked();
    await runDump(options({ dumpsRoot: other }));
    const statusPath = join(other, WIKI, DATE, 'dumpstatus.json');
    // When the last job is about to be marked done, its status write (and the run's retry) cannot
    // create their temp file: a folder has its name.
    let armed = true;
    const now = () => {
      if (armed) {
        const jobs = [...parseDumpStatus(readFileSync(statusPath, 'utf8'))!.values()];
        if (jobs.filter((job) => job.status !== 'done').length === 1) {
          mkdirSync(`${statusPath}.inprog`);
          armed = false;
        }
      }
      return FIXED_NOW();
    };
    await assert.rejects(runDump(options({ dumpsRoot: other, now })), (e: unknown) => (e as { code?: string }).code === 'STORAGE' || /EISDIR/.test(String(e)));
    assert.equal(armed, false, 'the last status write was made to fail');
    assert.ok([...parseDumpStatus(readFileSync(statusPath, 'utf8'))!.values()].some((job) => job.status !== 'done'), 'the date is not complete on disk');
    assert.deepEqual(await linked(), earlier, 'latest/ is the earlier complete run, link for link');
  });
});

test('after a switch of compression, a run of some jobs lists the history job of the new one as waiting when the old one had failed: the date is not complete', async () => {
  await inTempDir('mwlake-codec-switch-', async (other) => {
    const dir = join(other, WIKI, DATE);
    const statusPath = join(dir, 'dumpstatus.json');
    await runDump(options({ dumpsRoot: other }));
    // The night's content jobs failed: failed, without files, as a failed run records them.
    const status = JSON.parse(await readFile(statusPath, 'utf8')) as { jobs: Record<string, { status: string; files: object }> };
    for (const job of ['metahistorybz2dump', 'metacurrentdump', 'articlesdump']) status.jobs[job] = { ...status.jobs[job]!, status: 'failed', files: {} };
    await writeFile(statusPath, JSON.stringify(status));
    for (const name of await readdir(dir)) if (/pages-(meta-history|meta-current|articles)\.xml\.bz2$/.test(name)) await rm(join(dir, name));
    const r = await runDump(options({ dumpsRoot: other, compression: { history: 'zst', current: 'zst', articles: 'zst' }, jobs: ['metacurrentdump', 'articlesdump'] }));
    assert.equal(r.complete, false);
    assert.equal(r.linkedLatest, false);
    const jobs = parseDumpStatus(await readFile(statusPath, 'utf8'))!;
    assert.equal(jobs.get('metahistoryzstdump')?.status, 'waiting', JSON.stringify([...jobs]));
    assert.equal(jobs.get('metacurrentdump')?.status, 'done');
  });
});

test('a run of some jobs refuses, before writing, a date whose kept jobs it cannot vouch for; it restores their per-file checksums', async () => {
  await inTempDir('mwlake-kept-checks-', async (other) => {
    const dir = join(other, WIKI, DATE);
    const statusPath = join(dir, 'dumpstatus.json');
    const zstd = { history: 'zst', current: 'zst', articles: 'zst' } as const;
    await runDump(options({ dumpsRoot: other, compression: zstd }));
    const status = await readFile(statusPath, 'utf8');
    // Another compression: the kept jobs' files are not what the configuration writes.
    await assert.rejects(runDump(options({ dumpsRoot: other, jobs: ['metacurrentdump'] })), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'USAGE');
      assert.match(error.message, /records job metahistoryzstdump, which the configured compression does not write .*run every job of the date/);
      return true;
    });
    await assert.rejects(runDump(options({ dumpsRoot: other, jobs: ['metahistoryzstdump'], compression: { history: 'zst' } })), /pages-meta-current\.xml\.zst of job metacurrentdump was written with other compression/);
    assert.equal(await readFile(statusPath, 'utf8'), status, 'dumpstatus.json unchanged');

    // A kept file that is gone.
    const current = 'testwiki-20240801-pages-meta-current.xml.zst';
    const bytes = await readFile(join(dir, current));
    await rm(join(dir, current));
    await assert.rejects(runDump(options({ dumpsRoot: other, compression: zstd, jobs: ['metahistoryzstdump'] })), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'DATA');
      assert.match(error.message, new RegExp(`${current} of job metacurrentdump is missing: add metacurrentdump to --jobs`));
      return true;
    });
    await writeFile(join(dir, current), bytes);

    // An unreadable status.
    await writeFile(statusPath, '{"jobs": ');
    await assert.rejects(runDump(options({ dumpsRoot: other, compression: zstd, jobs: ['metahistoryzstdump'] })), (error: Error & { code?: string }) => error.code === 'DATA' && /is not a dumpstatus\.json this version can read/.test(error.message));
    await writeFile(statusPath, status);

    // A kept job's per-file checksum file that went missing is written again.
    await rm(join(dir, `md5sums-${current}.txt`));
    await runDump(options({ dumpsRoot: other, compression: zstd, jobs: ['metahistoryzstdump'] }));
    assert.equal(await readFile(join(dir, `md5sums-${current}.txt`), 'utf8'), `${createHash('md5').update(bytes).digest('hex')}  ${current}\n`);
  });
});

test('SIGTERM while the last job is recorded done leaves the date complete, and latest/ on it, not on an older run', async () => {
  await inTempDir('mwlake-rerun-fallback-sigterm-', async (other) => {
    const latestDir = join(other, WIKI, 'latest');
    const linked = async () => new Map(await Promise.all((await latestLinks(latestDir)).map(async (name) => [name, await readlink(join(latestDir, name))] as const)));
    assert.equal((await runDump(options({ dumpsRoot: other, date: '20240731' }))).linkedLatest, true);
    assert.equal((await runDump(options({ dumpsRoot: other }))).linkedLatest, true);
    let calls = 0;
    let cleanups: Promise<boolean> | undefined;
    const now = () => {
      calls += 1;
      // The second clock read is the history job's `done` stamp: SIGTERM lands while it is recorded.
      if (calls === 2) cleanups = runInterruptCleanups('SIGTERM', 20_000);
      return FIXED_NOW();
    };
    await assert.rejects(runDump(options({ dumpsRoot: other, jobs: ['metahistorybz2dump'], now })), /SIGTERM/);
    assert.equal(await cleanups, true);
    const status = await readFile(join(other, WIKI, DATE, 'dumpstatus.json'), 'utf8');
    assert.ok(isCompleteRunStatus(status), 'the date is complete');
    assert.ok([...(await linked()).values()].every((target) => target.startsWith(`../${DATE}/`)), `latest/ stays on the complete newest run: ${[...(await linked()).values()].join(', ')}`);
  });
});
