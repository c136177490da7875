// <siteinfo> from Wikimedia's namespace map (shared/reference/wikimedia/siteinfo) and overrides.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isArticlesNamespace, languageCodeFor, loadSiteInfo, loadSiteInfos, UnmappedWikiError } from '../../src/dumps/site-info.js';
import { renderDocumentOpen } from '../../src/dumps/xml-render.js';
import { namespaceMapPath } from './helpers.js';

test('enwiki from the namespace map: names, base, case, sorted localized namespaces, content namespaces', async () => {
  const site = await loadSiteInfo(namespaceMapPath, 'enwiki');
  assert.equal(site.dbName, 'enwiki');
  assert.equal(site.siteName, 'Wikipedia');
  assert.equal(site.base, 'https://en.wikipedia.org/wiki/Main_Page');
  assert.equal(site.languageCode, 'en');
  assert.equal(site.caseSetting, 'first-letter');
  const keys = site.namespaces.map((ns) => ns.key);
  assert.deepEqual(keys, [...keys].sort((a, b) => a - b));
  assert.deepEqual(site.namespaces.find((ns) => ns.key === 0), { key: 0, name: '', caseSetting: 'first-letter', isContent: true });
  assert.deepEqual(site.namespaces.find((ns) => ns.key === 2302), { key: 2302, name: 'Gadget definition', caseSetting: 'case-sensitive', isContent: false });
  // Wikimedia's articles dumps: every subject namespace but User (xmlstubs.py: notalk, !NS_USER).
  assert.deepEqual(site.namespaces.map((ns) => ns.key).filter(isArticlesNamespace), [0, 4, 6, 8, 10, 12, 14, 100, 118, 710, 828, 2300, 2302]);
  const header = renderDocumentOpen(site, 'mwlake 1.2.3');
  assert.match(header, /xml:lang="en">\n {2}<siteinfo>\n {4}<sitename>Wikipedia<\/sitename>\n {4}<dbname>enwiki<\/dbname>\n/);
  assert.match(header, / {6}<namespace key="0" case="first-letter" \/>\n/);
  assert.match(header, / {6}<namespace key="1" case="first-letter">Talk<\/namespace>\n/);
  assert.match(header, /<generator>mwlake 1\.2\.3<\/generator>/);
});

test('wikis whose map language is a project name get xml:lang "en"; real language tags are kept', async () => {
  assert.equal((await loadSiteInfo(namespaceMapPath, 'commonswiki')).languageCode, 'en');
  assert.equal((await loadSiteInfo(namespaceMapPath, 'wikidatawiki')).languageCode, 'en');
  assert.equal((await loadSiteInfo(namespaceMapPath, 'elwikivoyage')).languageCode, 'el');
  assert.equal(languageCodeFor('nds-NL'), 'nds-NL');
  assert.equal(languageCodeFor('shy-Latn'), 'shy-Latn');
  assert.equal(languageCodeFor('testwikidata'), 'en');
});

test('config overrides replace what the map says', async () => {
  const site = await loadSiteInfo(namespaceMapPath, 'enwiki', { siteName: 'My mirror', base: 'https://mirror.example/wiki/Main', languageCode: 'en-GB' });
  assert.equal(site.siteName, 'My mirror');
  assert.equal(site.base, 'https://mirror.example/wiki/Main');
  assert.equal(site.languageCode, 'en-GB');
  assert.ok(site.namespaces.length > 10);
});

test('a wiki missing from the map fails with NOT_FOUND unless the config gives its whole site info', async () => {
  await assert.rejects(loadSiteInfo(namespaceMapPath, 'nosuchwiki'), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'NOT_FOUND');
    assert.match(error.message, /no line for wiki "nosuchwiki"/);
    return true;
  });
  const site = await loadSiteInfo(namespaceMapPath, 'nosuchwiki', {
    siteName: 'Private',
    base: 'https://private.example/wiki/Main',
    languageCode: 'de',
    caseSetting: 'case-sensitive',
    namespaces: [
      { key: 1, name: 'Diskussion', caseSetting: 'case-sensitive', isContent: false },
      { key: 0, name: '', caseSetting: 'case-sensitive', isContent: true },
    ],
  });
  assert.deepEqual(
    site.namespaces.map((ns) => ns.key),
    [0, 1],
  );
});

test('a plain (not gzipped) map with a malformed line is reported with its line number', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mwlake-nsmap-'));
  try {
    const path = join(dir, 'map.json');
    await writeFile(path, '{"dbname":"xwiki","sitename":"X","home_page":"https://x/wiki/M","language":"en","case_setting":"first-letter","namespace":0,"namespace_localized_name":"","namespace_case_setting":"first-letter","namespace_is_content":1}\n{"dbname":"xwiki", broken\n');
    await assert.rejects(loadSiteInfo(path, 'xwiki'), /map\.json:2 is not valid JSON/);
    await writeFile(path, '{"dbname":"xwiki","sitename":"X","home_page":"https://x/wiki/M","language":"en","case_setting":"sideways","namespace":0}\n');
    await assert.rejects(loadSiteInfo(path, 'xwiki'), /expected a case setting .* found undefined|found "sideways"/);
    // A file of another shape is named as such, not reported as lacking the wiki.
    await writeFile(path, '[{"dbname":"ywiki"},\n{"dbname":"xwiki"}]\n');
    await assert.rejects(loadSiteInfo(path, 'xwiki'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'DATA');
      assert.match(error.message, /map\.json:1 is not valid JSON; expected JSON lines/);
      return true;
    });
    await writeFile(path, '[{"dbname":"ywiki"}, {"dbname":"xwiki"}]\n');
    await assert.rejects(loadSiteInfo(path, 'xwiki'), /map\.json:1 is not a namespace map line: expected a JSON object with a string "dbname"/);
    // A blank first line is not the file's shape.
    await writeFile(path, '\n{"dbname":"xwiki","sitename":"X","home_page":"https://x/wiki/M","language":"en","case_setting":"first-letter","namespace":0,"namespace_localized_name":"","namespace_case_setting":"first-letter","namespace_is_content":1}\n');
    assert.equal((await loadSiteInfo(path, 'xwiki')).siteName, 'X');
    await writeFile(path, 'dbname,namespace\nxwiki,0\n');
    await assert.rejects(loadSiteInfo(path, 'xwiki'), /map\.json:1 is not valid JSON/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('several wikis in one read of the map are each what loadSiteInfo reads, and a wiki it lacks is an UnmappedWikiError', async () => {
  const wikis = ['zuwiki', 'enwiki', 'nosuchwiki', 'commonswiki', 'dewiki'];
  const sites = await loadSiteInfos(namespaceMapPath, wikis);
  assert.deepEqual([...sites.keys()], wikis);
  assert.deepEqual(await loadSiteInfos(join(tmpdir(), 'no-such-map.json.gz'), []), new Map(), 'no wiki: the map is not read');
  for (const wiki of wikis) {
    const site = sites.get(wiki);
    if (wiki === 'nosuchwiki') assert.ok(site instanceof UnmappedWikiError && site.wikiId === wiki);
    else assert.deepEqual(site, await loadSiteInfo(namespaceMapPath, wiki));
  }
});

test('a line counts for a wiki when it names it as loadSiteInfo matches it: spaces aside, escapes not decoded after the first line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mwlake-nsmap-'));
  try {
    const path = join(dir, 'map.json');
    const line = (dbname: string, name: string) => `{${dbname},"sitename":"${name}","home_page":"https://x/wiki/M","language":"en","case_setting":"first-letter","namespace":0,"namespace_localized_name":"","namespace_case_setting":"first-letter","namespace_is_content":1}`;
    await writeFile(path, [line('"dbname":\t"xwiki"', 'X'), line('"dbname": "zwiki"', 'Z'), line('"dbname":"y\\u0077iki"', 'Y'), line('"dbname":"wwiki"', 'W')].join('\n') + '\n');
    const sites = await loadSiteInfos(path, ['xwiki', 'ywiki', 'zwiki', 'wwiki']);
    assert.deepEqual([...sites].map(([w, s]) => [w, s instanceof UnmappedWikiError ? null : s.siteName]), [['xwiki', 'X'], ['ywiki', null], ['zwiki', 'Z'], ['wwiki', 'W']]);
    for (const [wiki, site] of sites) {
      if (site instanceof UnmappedWikiError) await assert.rejects(loadSiteInfo(path, wiki), UnmappedWikiError);
      else assert.deepEqual(await loadSiteInfo(path, wiki), site);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a missing or corrupt gzipped map fails with NOT_FOUND naming the file, and the process goes on', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mwlake-nsmap-'));
  try {
    const missing = join(dir, 'absent.json.gz');
    await assert.rejects(loadSiteInfo(missing, 'enwiki'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'NOT_FOUND');
      assert.ok(error.message.includes(`cannot read the namespace map ${missing}`), error.message);
      assert.match(error.message, /ENOENT/);
      return true;
    });
    const corrupt = join(dir, 'corrupt.json.gz');
    await writeFile(corrupt, 'this is not gzip\n');
    await assert.rejects(loadSiteInfo(corrupt, 'enwiki'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'NOT_FOUND');
      assert.ok(error.message.includes(`cannot read the namespace map ${corrupt}`), error.message);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
