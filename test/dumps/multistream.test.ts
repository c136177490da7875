// pages-articles-multistream: every index offset starts a bz2 stream that decompresses on its own
// and holds at most 100 pages (exactly the pages the index names for it), the first stream is the
// header and the last the footer, the whole file is the plain XML, and parts and pool sizes behave.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findCompressionTools, type CompressionTools } from '../../src/dumps/compress.js';
import { writeMultistreamDump } from '../../src/dumps/multistream.js';
import type { DumpRevisionRow } from '../../src/dumps/records.js';
import { writeXmlDump } from '../../src/dumps/xml-dump.js';
import { GeneratedDumpSource } from './generated-source.js';
import { loadSiteInfo } from '../../src/dumps/site-info.js';
import { assertValidExport, bunzip2, bunzip2OneStream, namespaceMapPath, TEST_SITE } from './helpers.js';

const baseTools = findCompressionTools();
const QUERY = { wikiId: 'testwiki', cutoffMs: Infinity, includeContent: true };

function source(pages: number): GeneratedDumpSource {
  return new GeneratedDumpSource({ pages, revisionsPerPage: 2, textChars: 400, seed: 7 });
}

async function writeMultistream(directory: string, pages: number, maxPartBytes = Infinity, tools: CompressionTools = baseTools, singleStreamName?: string) {
  return writeMultistreamDump(source(pages).articles(QUERY), {
    directory,
    wikiId: 'testwiki',
    date: '20240801',
    dumpName: 'pages-articles-multistream',
    site: TEST_SITE,
    generator: 'mwlake test',
    maxPartBytes,
    tools,
    ...(singleStreamName === undefined ? {} : { singleStreamName }),
  });
}

async function withDirectory<T>(work: (directory: string) => Promise<T>): Promise<T> {
  const directory = await mkdtemp(join(tmpdir(), 'mwlake-multistream-'));
  try {
    return await work(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** Byte offsets of bz2 stream starts: "BZh" + level digit + the block magic 0x314159265359. */
function streamStarts(file: Buffer): number[] {
  const magic = Buffer.from([0x31, 0x41, 0x59, 0x26, 0x53, 0x59]);
  const starts: number[] = [];
  for (let at = file.indexOf('BZh'); at !== -1; at = file.indexOf('BZh', at + 1)) {
    const level = file[at + 3]!;
    if (level >= 0x31 && level <= 0x39 && file.subarray(at + 4, at + 10).equals(magic)) starts.push(at);
  }
  return starts;
}

interface IndexLine {
  offset: number;
  pageId: number;
  title: string;
}

function parseIndex(text: string): IndexLine[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const match = /^(\d+):(\d+):(.*)$/.exec(line);
      assert.ok(match, `bad index line ${JSON.stringify(line)}`);
      return { offset: Number(match[1]), pageId: Number(match[2]), title: match[3]! };
    });
}

/** Checks one multistream file against its index; returns the page ids it holds. */
function checkMultistream(file: Buffer, index: IndexLine[]): number[] {
  const starts = streamStarts(file);
  assert.equal(starts[0], 0);
  const offsets = [...new Set(index.map((line) => line.offset))];
  assert.deepEqual(offsets, starts.slice(1, -1), 'index offsets are exactly the page streams (after the header, before the footer)');
  const header = bunzip2(file.subarray(0, starts[1])).toString('utf8');
  assert.match(header, /^<mediawiki [^>]*>\n {2}<siteinfo>[\s\S]*<\/siteinfo>\n$/);
  assert.equal(bunzip2(file.subarray(starts.at(-1)!)).toString('utf8'), '</mediawiki>\n');
  const pageIds: number[] = [];
  for (let i = 1; i < starts.length - 1; i++) {
    const stream = bunzip2(file.subarray(starts[i], starts[i + 1])).toString('utf8');
    const ids = [...stream.matchAll(/<page>\n {4}<title>[^<]*<\/title>\n {4}<ns>\d+<\/ns>\n {4}<id>(\d+)<\/id>/g)].map((match) => Number(match[1]));
    assert.ok(ids.length >= 1 && ids.length <= 100, `stream ${i} holds ${ids.length} pages`);
    assert.equal(stream.split('<page>').length - 1, ids.length);
    assert.ok(stream.startsWith('  <page>\n') && stream.endsWith('  </page>\n'), `stream ${i} holds whole pages`);
    const indexed = index.filter((line) => line.offset === starts[i]);
    assert.deepEqual(
      indexed.map((line) => line.pageId),
      ids,
      `index lines for offset ${starts[i]}`,
    );
    for (const line of indexed) assert.ok(stream.includes(`<title>${line.title}</title>`), `title ${line.title} in its stream`);
    pageIds.push(...ids);
  }
  return pageIds;
}

test('every indexed stream decompresses on its own and holds the (at most 100) pages the index names', async () => {
  await withDirectory(async (directory) => {
    const files = (await writeMultistream(directory, 350)).files;
    assert.deepEqual(
      files.map((file) => file.name),
      ['testwiki-20240801-pages-articles-multistream.xml.bz2', 'testwiki-20240801-pages-articles-multistream-index.txt.bz2'],
    );
    const file = await readFile(join(directory, files[0]!.name));
    const index = parseIndex(bunzip2(await readFile(join(directory, files[1]!.name))).toString('utf8'));
    assert.equal(index.length, 350);
    assert.equal(index[0]!.title, 'Generated page 1');
    const pageIds = checkMultistream(file, index);
    assert.deepEqual(
      pageIds,
      Array.from({ length: 350 }, (_, i) => i + 1),
    );
    const perStream = [...new Set(index.map((line) => line.offset))].map((offset) => index.filter((line) => line.offset === offset).length);
    assert.deepEqual(perStream, [100, 100, 100, 50]);
  });
});

test('the multistream file decompresses to exactly the pages-articles XML of the same rows', async () => {
  await withDirectory(async (directory) => {
    const {
      files: [multistream],
    } = await writeMultistream(directory, 230);
    const [plain] = await writeXmlDump(source(230).articles(QUERY), {
      directory,
      wikiId: 'testwiki',
      date: '20240801',
      dumpName: 'pages-articles',
      codec: 'none',
      mode: 'full',
      site: TEST_SITE,
      generator: 'mwlake test',
      maxPartBytes: Infinity,
      tools: baseTools,
    });
    const whole = bunzip2(await readFile(join(directory, multistream!.name)));
    assert.ok(whole.equals(await readFile(join(directory, plain!.name))));
    assertValidExport(whole, 'multistream');
  });
});

test('the output does not depend on the size of the compression pool', async () => {
  const outputs: Buffer[] = [];
  for (const threads of [1, 2, 3]) {
    await withDirectory(async (directory) => {
      const files = (await writeMultistream(directory, 260, Infinity, { ...baseTools, threads })).files;
      outputs.push(Buffer.concat(await Promise.all(files.map((file) => readFile(join(directory, file.name))))));
    });
  }
  assert.ok(outputs[0]!.equals(outputs[1]!) && outputs[1]!.equals(outputs[2]!));
});

test('large multistream outputs split into numbered parts at stream boundaries, each with its own index', async () => {
  await withDirectory(async (directory) => {
    const files = (await writeMultistream(directory, 450, 60_000)).files;
    const names = files.map((file) => file.name);
    assert.ok(names.length >= 4, `expected several parts, got ${names.join(', ')}`);
    const parts = names.filter((name) => !name.includes('-index'));
    let expectedFirst = 1;
    const all: number[] = [];
    for (const [i, name] of parts.entries()) {
      const match = /^testwiki-20240801-pages-articles-multistream(\d+)\.xml-p(\d+)p(\d+)\.bz2$/.exec(name);
      assert.ok(match, name);
      assert.equal(Number(match[1]), i + 1);
      assert.equal(Number(match[2]), expectedFirst);
      const indexName = `testwiki-20240801-pages-articles-multistream-index${i + 1}.txt-p${match[2]}p${match[3]}.bz2`;
      assert.ok(names.includes(indexName), `missing ${indexName}`);
      const file = await readFile(join(directory, name));
      const index = parseIndex(bunzip2(await readFile(join(directory, indexName))).toString('utf8'));
      const ids = checkMultistream(file, index);
      assert.equal(ids[0], Number(match[2]));
      assert.equal(ids.at(-1), Number(match[3]));
      assert.equal(ids.length % 100 === 0 || i === parts.length - 1, true, 'parts end at a stream boundary');
      assertValidExport(bunzip2(file), name);
      all.push(...ids);
      expectedFirst = Number(match[3]) + 1;
    }
    assert.deepEqual(
      all,
      Array.from({ length: 450 }, (_, i) => i + 1),
    );
    assert.deepEqual((await readdir(directory)).sort(), [...names].sort(), 'no in-progress files remain');
  });
});

test('an empty wiki gives a header stream, a footer stream and an empty index', async () => {
  await withDirectory(async (directory) => {
    const { files } = await writeMultistreamDump((async function* (): AsyncIterable<DumpRevisionRow> {})(), {
      directory,
      wikiId: 'testwiki',
      date: '20240801',
      dumpName: 'pages-articles-multistream',
      site: TEST_SITE,
      generator: 'mwlake test',
      maxPartBytes: Infinity,
      tools: baseTools,
    });
    const file = await readFile(join(directory, files[0]!.name));
    assert.equal(streamStarts(file).length, 2);
    assert.equal(bunzip2(await readFile(join(directory, files[1]!.name))).length, 0);
    assertValidExport(bunzip2(file), 'empty multistream');
  });
});

test("index titles are the <title> text as written, entities and all, as recompressxml copies it", async () => {
  await withDirectory(async (directory) => {
    const titles = ['AT&T', 'A<b>"c"', 'Plain'];
    async function* rows(): AsyncIterable<DumpRevisionRow> {
      let pageId = 0;
      for await (const row of source(3).articles(QUERY)) yield { ...row, pageTitle: titles[pageId++]! };
    }
    const { files } = await writeMultistreamDump(rows(), { directory, wikiId: 'testwiki', date: '20240801', dumpName: 'pages-articles-multistream', site: TEST_SITE, generator: 'mwlake test', maxPartBytes: Infinity, tools: baseTools });
    const index = parseIndex(bunzip2(await readFile(join(directory, files[1]!.name))).toString('utf8'));
    assert.deepEqual(index.map((line) => line.title), ['AT&amp;T', 'A&lt;b&gt;"c"', 'Plain']);
    checkMultistream(await readFile(join(directory, files[0]!.name)), index);
  });
});

test('User pages are titled with the siteinfo name of their namespace, not the gendered form events carry (XML and index)', async () => {
  const site = await loadSiteInfo(namespaceMapPath, 'dewiki');
  await withDirectory(async (directory) => {
    // dewiki's events title a female user's pages `Benutzerin:`; siteinfo lists only `Benutzer`.
    const pages = [
      { ns: 2, title: 'Benutzerin:Anna/Notizen' },
      { ns: 3, title: 'Benutzerin_Diskussion:Anna' },
      { ns: 2, title: 'Benutzer:Bob' },
      { ns: 0, title: 'Benutzerin:_Ein_Film' },
    ];
    async function* rows(): AsyncIterable<DumpRevisionRow> {
      let page = 0;
      for await (const row of source(pages.length).articles(QUERY)) {
        const { ns, title } = pages[page++]!;
        yield { ...row, pageNamespaceId: ns, pageTitle: title };
      }
    }
    const expected = ['Benutzer:Anna/Notizen', 'Benutzer Diskussion:Anna', 'Benutzer:Bob', 'Benutzerin: Ein Film'];
    const common = { directory, wikiId: 'dewiki', date: '20240801', site, generator: 'mwlake test', maxPartBytes: Infinity, tools: baseTools };
    const { files } = await writeMultistreamDump(rows(), { ...common, dumpName: 'pages-articles-multistream' });
    const index = parseIndex(bunzip2(await readFile(join(directory, files[1]!.name))).toString('utf8'));
    assert.deepEqual(index.map((line) => line.title), expected);
    checkMultistream(await readFile(join(directory, files[0]!.name)), index);
    const [history] = await writeXmlDump(rows(), { ...common, dumpName: 'pages-meta-history', codec: 'none', mode: 'full' });
    const xml = await readFile(join(directory, history!.name), 'utf8');
    assert.deepEqual([...xml.matchAll(/<title>([^<]*)<\/title>/g)].map((match) => match[1]), expected);
  });
});

test("redirect targets in a gendered User namespace form take the siteinfo name too, by the target's namespace or, without it, the page's own prefix (stubs and full)", async () => {
  const site = await loadSiteInfo(namespaceMapPath, 'dewiki');
  await withDirectory(async (directory) => {
    const pages = [
      // A renamed user's old page and talk page, and a subpage to the main page.
      { ns: 2, title: 'Benutzerin:Anna_alt', target: 'Benutzerin:Anna' },
      { ns: 3, title: 'Benutzerin_Diskussion:Anna_alt', target: 'Benutzerin_Diskussion:Anna' },
      { ns: 2, title: 'Benutzerin:Anna/Notizen', target: 'Benutzerin:Anna' },
      { ns: 2, title: 'Benutzer:Bob', target: 'Benutzer:Bob/Neu' },
      // The target's namespace known: from another namespace or form; an interwiki target has none.
      { ns: 2, title: 'Benutzer:Bob', target: 'Benutzerin:Anna', targetNs: 2 },
      { ns: 0, title: 'Anna_(Autorin)', target: 'Benutzerin_Diskussion:Anna', targetNs: 3 },
      { ns: 0, title: 'Anna', target: 'Benutzerin:_Ein_Film', targetNs: 0 },
      { ns: 2, title: 'Benutzerin:Anna_w', target: 'wikt:Benutzerin:Anna', targetNs: null },
    ];
    async function* rows(): AsyncIterable<DumpRevisionRow> {
      let page = 0;
      for await (const row of source(pages.length).articles(QUERY)) {
        const { ns, title, target, targetNs } = pages[page++]!;
        yield { ...row, pageNamespaceId: ns, pageTitle: title, pageRedirectTarget: target, ...(targetNs === undefined ? {} : { pageRedirectTargetNamespaceId: targetNs }) };
      }
    }
    const expected = ['Benutzer:Anna', 'Benutzer Diskussion:Anna', 'Benutzer:Anna', 'Benutzer:Bob/Neu', 'Benutzer:Anna', 'Benutzer Diskussion:Anna', 'Benutzerin: Ein Film', 'wikt:Benutzerin:Anna'];
    const common = { directory, wikiId: 'dewiki', date: '20240801', site, generator: 'mwlake test', maxPartBytes: Infinity, tools: baseTools, codec: 'none' } as const;
    for (const mode of ['stub', 'full'] as const) {
      const [file] = await writeXmlDump(rows(), { ...common, dumpName: `pages-${mode}`, mode });
      const xml = await readFile(join(directory, file!.name), 'utf8');
      assert.deepEqual([...xml.matchAll(/<redirect title="([^"]*)" \/>/g)].map((match) => match[1]), expected, mode);
    }
  });
});

test('the single-stream file beside it is one bz2 stream of the same XML, with the same parts', async () => {
  await withDirectory(async (directory) => {
    const whole = await writeMultistream(directory, 230, Infinity, baseTools, 'pages-articles');
    assert.deepEqual(
      whole.singleStream.map((file) => file.name),
      ['testwiki-20240801-pages-articles.xml.bz2'],
    );
    const joined = await readFile(join(directory, whole.singleStream[0]!.name));
    assert.equal(streamStarts(joined).length, 1);
    assert.deepEqual(bunzip2OneStream(joined), bunzip2(await readFile(join(directory, whole.files[0]!.name))));
    assert.equal(whole.singleStream[0]!.sizeBytes, joined.length);
  });
  await withDirectory(async (directory) => {
    const parted = await writeMultistream(directory, 450, 60_000, baseTools, 'pages-articles');
    const multistreamParts = parted.files.filter((file) => !file.name.includes('-index'));
    assert.ok(multistreamParts.length >= 4);
    assert.deepEqual(
      parted.singleStream.map((file) => file.name),
      multistreamParts.map((file) => file.name.replace('-multistream', '')),
    );
    for (const [i, file] of parted.singleStream.entries()) {
      const xml = bunzip2OneStream(await readFile(join(directory, file.name)));
      assert.deepEqual(xml, bunzip2(await readFile(join(directory, multistreamParts[i]!.name))));
    }
    assert.deepEqual((await readdir(directory)).sort(), [...parted.files, ...parted.singleStream].map((file) => file.name).sort(), 'no in-progress files remain');
  });
});
