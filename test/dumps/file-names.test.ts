// Dump file names as the run builds them and as its clean-up and recombination recognise them:
// every codec's name, a part's and a whole file's, must be told apart by the patterns.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CODECS, isCompressedName } from '../../src/dumps/compress.js';
import { dumpFileName, dumpFilePattern, inProgressFileName, isPartFileName } from '../../src/dumps/file-names.js';

const range = { partNumber: 2, firstPageId: 101, lastPageId: 250 };

for (const codec of CODECS) {
  test(`${codec}: a part's name is a part's, a whole file's is not, and the run's pattern matches both and the in-progress name`, () => {
    const part = dumpFileName('enwiki', '20240101', 'pages-meta-history', 'xml', codec, range);
    const whole = dumpFileName('enwiki', '20240101', 'pages-meta-history', 'xml', codec);
    assert.equal(isPartFileName(part), true, part);
    assert.equal(isPartFileName(whole), false, whole);
    assert.equal(isCompressedName(whole), codec !== 'none', whole);
    const pattern = dumpFilePattern('enwiki', '20240101', 'pages-meta-history', 'xml');
    for (const name of [part, whole, inProgressFileName('enwiki', '20240101', 'pages-meta-history', 'xml', codec, 2)]) assert.match(name, pattern);
  });
}

test('names of another dump, date or suffix are not the run\'s', () => {
  const pattern = dumpFilePattern('enwiki', '20240101', 'pages-meta-history', 'xml');
  for (const name of ['enwiki-20240101-pages-meta-current.xml.bz2', 'enwiki-20240102-pages-meta-history.xml.bz2', 'enwiki-20240101-pages-meta-history.xml.bz2.md5', 'enwiki-20240101-pages-meta-history.xml.xz']) {
    assert.doesNotMatch(name, pattern);
  }
  assert.equal(isPartFileName('enwiki-20240101-pages-meta-history2.xml-p101p250.xz'), false);
  assert.equal(isCompressedName('enwiki-20240101-pages-meta-history.xml.bz2.md5'), false);
});
