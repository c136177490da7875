// The title lists' writer on its own: escapes and order as `mysql -e` over the page table, and a
// source out of order refused with nothing left behind (the run's behaviour is in dump-run.test.ts).

import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { findCompressionTools } from '../../src/dumps/compress.js';
import type { PageTitle } from '../../src/dumps/records.js';
import { writeTitleLists } from '../../src/dumps/title-lists.js';
import { inTempDir } from '../helpers/temp-dir.js';

const tools = findCompressionTools();

async function* from(titles: readonly PageTitle[]): AsyncIterable<PageTitle> {
  yield* titles;
}

test('both lists from one read: ns0 only in all-titles-in-ns0, raw as mysql -r (a backslash stays one), tab, line breaks and NUL escaped, bytewise order kept', async () => {
  await inTempDir('mwlake-titles-', async (dir) => {
    const titles: PageTitle[] = [
      { namespaceId: 0, title: 'A\\B' },
      { namespaceId: 0, title: 'Z' },
      // U+FF21 sorts before U+1F600 by UTF-8 bytes, as by code points; UTF-16 units would put it after.
      { namespaceId: 0, title: '\uff21' },
      { namespaceId: 0, title: '\u{1f600}' },
      { namespaceId: 2, title: 'Tab\there\nand\r\0nul' },
    ];
    const written = await writeTitleLists(from(titles), { directory: dir, wikiId: 'testwiki', date: '20240801', lists: ['all-titles-in-ns0', 'all-titles'], tools });
    const read = async (name: string) => gunzipSync(await readFile(join(dir, name))).toString('utf8');
    assert.equal(await read('testwiki-20240801-all-titles-in-ns0.gz'), 'page_title\nA\\B\nZ\n\uff21\n\u{1f600}\n');
    assert.equal(await read('testwiki-20240801-all-titles.gz'), 'page_namespace\tpage_title\n0\tA\\B\n0\tZ\n0\t\uff21\n0\t\u{1f600}\n2\tTab\\there\\nand\\r\\0nul\n');
    assert.deepEqual([...written.values()].map((file) => file.name).sort(), ['testwiki-20240801-all-titles-in-ns0.gz', 'testwiki-20240801-all-titles.gz']);
    assert.equal(written.get('all-titles')!.sizeBytes, (await readFile(join(dir, 'testwiki-20240801-all-titles.gz'))).length);
  });
});

test('titles out of order are refused with DATA naming them, and neither list nor its in-progress file is left, nor an earlier run\'s', async () => {
  await inTempDir('mwlake-titles-order-', async (dir) => {
    await writeFile(join(dir, 'testwiki-20240801-all-titles.gz'), 'an earlier run');
    const titles: PageTitle[] = [{ namespaceId: 0, title: 'B' }, { namespaceId: 0, title: 'A' }];
    await assert.rejects(writeTitleLists(from(titles), { directory: dir, wikiId: 'testwiki', date: '20240801', lists: ['all-titles-in-ns0', 'all-titles'], tools }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'DATA');
      assert.match(error.message, /titles out of order: 0:B before 0:A/);
      return true;
    });
    assert.deepEqual(await readdir(dir), []);
  });
});

test('a stop while the source has not answered ends the lists at once, removing their files and an earlier run\'s', async () => {
  await inTempDir('mwlake-titles-stop-', async (dir) => {
    await writeFile(join(dir, 'testwiki-20240801-all-titles-in-ns0.gz'), 'an earlier run');
    const stop = new AbortController();
    let returned = false;
    // A source still sorting: its first title never comes.
    const stalled: AsyncIterable<PageTitle> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<PageTitle>>(() => {}),
        return: async () => ((returned = true), { done: true, value: undefined }),
      }),
    };
    const run = writeTitleLists(stalled, { directory: dir, wikiId: 'testwiki', date: '20240801', lists: ['all-titles-in-ns0', 'all-titles'], tools, signal: stop.signal });
    setImmediate(() => stop.abort(new Error('stopped by SIGTERM')));
    await assert.rejects(run, /stopped by SIGTERM/);
    assert.equal(returned, true, 'the source is told to stop');
    assert.deepEqual(await readdir(dir), []);
    // Stopped before it starts: nothing is written, and an earlier run's files go too.
    await writeFile(join(dir, 'testwiki-20240801-all-titles.gz'), 'an earlier run');
    await assert.rejects(writeTitleLists(stalled, { directory: dir, wikiId: 'testwiki', date: '20240801', lists: ['all-titles'], tools, signal: stop.signal }), /stopped by SIGTERM/);
    assert.deepEqual(await readdir(dir), []);
  });
});
