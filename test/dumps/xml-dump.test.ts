// Part splitting and naming, in-progress names and cleanup of writeXmlDump.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findCompressionTools, type Codec, type CompressionTools } from '../../src/dumps/compress.js';
import type { DumpRevisionRow } from '../../src/dumps/records.js';
import { writeXmlDump } from '../../src/dumps/xml-dump.js';
import { generatedRows } from './generated-source.js';
import { assertValidExport, decompressFile, TEST_SITE } from './helpers.js';

const tools = findCompressionTools();

async function withDirectory<T>(work: (directory: string) => Promise<T>): Promise<T> {
  const directory = await mkdtemp(join(tmpdir(), 'mwlake-xml-dump-'));
  try {
    return await work(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

function write(directory: string, rows: AsyncIterable<DumpRevisionRow>, maxPartBytes: number, codec: Codec = 'bz2', compression: CompressionTools = tools) {
  return writeXmlDump(rows, {
    directory,
    wikiId: 'testwiki',
    date: '20240801',
    dumpName: 'pages-meta-history',
    codec,
    mode: 'full',
    site: TEST_SITE,
    generator: 'mwlake test',
    maxPartBytes,
    tools: compression,
  });
}

const rows = () => generatedRows({ pages: 60, revisionsPerPage: 3, textChars: 300, seed: 3 });

function pageIdsOf(xml: string): number[] {
  return [...xml.matchAll(/<\/title>\n {4}<ns>\d+<\/ns>\n {4}<id>(\d+)<\/id>/g)].map((match) => Number(match[1]));
}

test('large outputs split into parts named <dump><n>.xml-p<first>p<last>, each a whole document of whole pages', async () => {
  await withDirectory(async (directory) => {
    const maxPartBytes = 30_000;
    const files = await write(directory, rows(), maxPartBytes);
    assert.ok(files.length >= 3, `expected several parts, got ${files.length}`);
    let expectedFirst = 1;
    const all: number[] = [];
    for (const [i, file] of files.entries()) {
      const match = /^testwiki-20240801-pages-meta-history(\d+)\.xml-p(\d+)p(\d+)\.bz2$/.exec(file.name);
      assert.ok(match, file.name);
      assert.equal(Number(match[1]), i + 1);
      const xml = decompressFile(join(directory, file.name));
      assertValidExport(xml, file.name);
      const ids = pageIdsOf(xml.toString('utf8'));
      assert.equal(ids[0], Number(match[2]));
      assert.equal(ids.at(-1), Number(match[3]));
      assert.equal(Number(match[2]), expectedFirst, 'ranges are contiguous');
      expectedFirst = Number(match[3]) + 1;
      // A part closes at the first page boundary past the limit, so only the last can be smaller.
      if (i < files.length - 1) assert.ok(xml.length >= maxPartBytes, `part ${i + 1} has ${xml.length} bytes`);
      assert.equal(xml.toString('utf8').split('<revision>').length - 1, ids.length * 3, 'no page is split across parts');
      all.push(...ids);
    }
    assert.deepEqual(
      all,
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    assert.deepEqual((await readdir(directory)).sort(), files.map((file) => file.name).sort(), 'nothing in progress remains');
  });
});

test('an output that fits one part keeps the plain name, and an empty one is a valid document with siteinfo only', async () => {
  await withDirectory(async (directory) => {
    const files = await write(directory, rows(), Infinity, 'gz');
    assert.deepEqual(
      files.map((file) => file.name),
      ['testwiki-20240801-pages-meta-history.xml.gz'],
    );
    const empty = await write(directory, (async function* (): AsyncIterable<DumpRevisionRow> {})(), 10, 'none');
    assert.deepEqual(
      empty.map((file) => file.name),
      ['testwiki-20240801-pages-meta-history.xml'],
    );
    const xml = await readFile(join(directory, empty[0]!.name));
    assertValidExport(xml, 'empty');
    assert.ok(!xml.toString('utf8').includes('<page>'));
    assert.deepEqual(await readdir(directory), ['testwiki-20240801-pages-meta-history.xml'], 'the new run replaced the earlier files');
  });
});

test('files an earlier run of the same output left behind (more parts, in-progress names) are removed', async () => {
  await withDirectory(async (directory) => {
    const stale = ['testwiki-20240801-pages-meta-history7.xml-p900p950.bz2', 'testwiki-20240801-pages-meta-history3.xml.bz2.inprog'];
    const unrelated = ['testwiki-20240801-pages-meta-history-notes.txt', 'testwiki-20240801-pages-meta-current.xml.bz2', 'otherwiki-20240801-pages-meta-history.xml.bz2'];
    for (const name of [...stale, ...unrelated]) await writeFile(join(directory, name), 'x');
    const files = await write(directory, rows(), Infinity);
    assert.deepEqual((await readdir(directory)).sort(), [...unrelated, ...files.map((file) => file.name)].sort());
  });
});

test('a source that fails midway leaves neither finished parts nor in-progress files', async () => {
  await withDirectory(async (directory) => {
    async function* failing(): AsyncIterable<DumpRevisionRow> {
      let count = 0;
      for await (const row of rows()) {
        if (++count === 150) throw new Error('source failed at row 150');
        yield row;
      }
    }
    await assert.rejects(write(directory, failing(), 20_000), /source failed at row 150/);
    assert.deepEqual(await readdir(directory), []);
  });
});

test('a compressor that fails is reported as a storage error with its stderr, and its files are removed', async () => {
  await withDirectory(async (directory) => {
    const broken: CompressionTools = { ...tools, bzip2: { command: '/bin/sh', parallel: false } };
    // `/bin/sh -9 -c` fails: "-9" is no shell option.
    await assert.rejects(write(directory, rows(), Infinity, 'bz2', broken), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'STORAGE');
      assert.match(error.message, /\/bin\/sh -9 -c .* ended with 2, expected exit 0/);
      return true;
    });
    assert.deepEqual(await readdir(directory), []);
  });
});

test('bz2 without lbzip2 or bzip2 installed fails with the Debian package to install', async () => {
  await withDirectory(async (directory) => {
    await assert.rejects(write(directory, rows(), Infinity, 'bz2', { threads: 2 }), /install the Debian package lbzip2 \(or bzip2\)/);
    await assert.rejects(write(directory, rows(), Infinity, 'zst', { threads: 2 }), /install the Debian package zstd/);
  });
});
