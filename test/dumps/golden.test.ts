// Golden files: every folder under test/dumps/golden/ holds input.jsonl (DumpRevisionRow lines)
// and the exact XML mwlake must write for them, as pages-meta-history (expected.xml) and as
// stub-meta-history (expected-stub.xml). UPDATE_GOLDEN=1 rewrites the expected files; review the diff.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findCompressionTools } from '../../src/dumps/compress.js';
import type { DumpRevisionRow } from '../../src/dumps/records.js';
import { writeXmlDump } from '../../src/dumps/xml-dump.js';
import { renderRevisionText, type RevisionMode } from '../../src/dumps/xml-render.js';
import { assertValidExport, caseDirs, GENERATOR_VERSION, goldenDir, readGoldenRows, TEST_SITE } from './helpers.js';

const update = process.env.UPDATE_GOLDEN === '1';
const tools = findCompressionTools();

async function* streamOf(rows: readonly DumpRevisionRow[]): AsyncIterable<DumpRevisionRow> {
  yield* rows;
}

/** The uncompressed XML writeXmlDump produces for the rows. */
async function render(rows: readonly DumpRevisionRow[], mode: RevisionMode): Promise<Buffer> {
  const directory = await mkdtemp(join(tmpdir(), 'mwlake-golden-'));
  try {
    const files = await writeXmlDump(streamOf(rows), {
      directory,
      wikiId: 'testwiki',
      date: '20240801',
      dumpName: mode === 'full' ? 'pages-meta-history' : 'stub-meta-history',
      codec: 'none',
      mode,
      site: TEST_SITE,
      generator: `mwlake ${GENERATOR_VERSION}`,
      maxPartBytes: Infinity,
      tools,
    });
    assert.equal(files.length, 1);
    return await readFile(join(directory, files[0]!.name));
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

function withByteBodies(rows: readonly DumpRevisionRow[]): DumpRevisionRow[] {
  return rows.map((row) => ({
    ...row,
    slots: row.slots.map((slot) => ({ ...slot, contentBody: typeof slot.contentBody === 'string' ? Buffer.from(slot.contentBody, 'utf8') : slot.contentBody })),
  }));
}

test('the golden corpus has the cases the issue lists', () => {
  const cases = caseDirs();
  for (const required of ['plain-revisions', 'ip-anonymous', 'unknown-editor', 'redaction-content', 'redaction-user', 'redaction-comment', 'mcr-slots', 'redirects', 'weird-text', 'empty-content']) {
    assert.ok(cases.includes(required), `missing golden case ${required} (found ${cases.join(', ')})`);
  }
});

for (const name of caseDirs()) {
  const caseDir = join(goldenDir, name);
  test(`golden ${name}: history and stub XML match the expected files and validate against export-0.11.xsd`, async () => {
    const rows = readGoldenRows(caseDir);
    for (const [mode, file] of [
      ['full', 'expected.xml'],
      ['stub', 'expected-stub.xml'],
    ] as const) {
      const xml = await render(rows, mode);
      const path = join(caseDir, file);
      if (update) await writeFile(path, xml);
      const expected = await readFile(path);
      assert.equal(xml.toString('utf8'), expected.toString('utf8'), `${name}/${file} differs (UPDATE_GOLDEN=1 rewrites it)`);
      assert.ok(xml.equals(expected), `${name}/${file}: same text, different bytes`);
      assertValidExport(xml, `${name}/${file}`);
    }
  });

  test(`golden ${name}: bodies given as UTF-8 bytes give byte-identical XML`, async () => {
    const rows = readGoldenRows(caseDir);
    const fromStrings = await render(rows, 'full');
    const fromBytes = await render(withByteBodies(rows), 'full');
    assert.equal(fromBytes.toString('utf8'), fromStrings.toString('utf8'));
  });
}

test('hidden content, user names and comments never reach the XML', async () => {
  for (const name of ['redaction-content', 'redaction-user', 'redaction-comment', 'mcr-slots']) {
    const rows = readGoldenRows(join(goldenDir, name));
    assert.ok(JSON.stringify(rows).includes('SECRET-HIDDEN'), `${name}: the input should carry hidden values`);
    for (const mode of ['full', 'stub'] as const) {
      const xml = (await render(rows, mode)).toString('utf8');
      assert.ok(!xml.includes('SECRET-HIDDEN'), `${name} (${mode}) leaks a hidden value`);
    }
  }
});

test("a slot without a format gets its model's default: JSON models of extensions are application/json, an unknown model octet-stream", () => {
  const row = (model: string): DumpRevisionRow => ({
    pageId: 1, pageNamespaceId: 8, pageTitle: 'Gadgets-definition', pageRedirectTarget: null, revisionId: 2, revisionParentId: null,
    revisionTimestampMs: Date.UTC(2024, 7, 1), revisionIsMinorEdit: false, revisionComment: null, revisionCommentIsVisible: true, revisionSha1: null,
    revisionContentIsVisible: true, userId: null, userText: '127.0.0.1', userIsVisible: true,
    slots: [{ role: 'main', contentModel: model, contentFormat: null, contentSha1: null, contentSizeBytes: 2, originRevisionId: 2, contentBody: new TextEncoder().encode('{}') }],
  });
  const formatOf = (model: string) => /<format>([^<]*)<\/format>/.exec(renderRevisionText(row(model), 'full'))?.[1];
  for (const model of ['GadgetDefinition', 'JsonSchema', 'Tabular.JsonConfig', 'Map.JsonConfig', 'MassMessageListContent', 'json', 'wikibase-item']) assert.equal(formatOf(model), 'application/json', model);
  assert.equal(formatOf('wikitext'), 'text/x-wiki');
  assert.equal(formatOf('no-such-model'), 'application/octet-stream');
});

test('a slot whose body the source does not have is written as content not included (<text bytes sha1 />), not as empty text', () => {
  const row: DumpRevisionRow = {
    pageId: 1, pageNamespaceId: 0, pageTitle: 'No_body', pageRedirectTarget: null, revisionId: 2, revisionParentId: null,
    revisionTimestampMs: Date.UTC(2024, 7, 1), revisionIsMinorEdit: false, revisionComment: null, revisionCommentIsVisible: true, revisionSha1: 'x',
    revisionContentIsVisible: true, userId: 7, userText: 'Alice', userIsVisible: true,
    slots: [{ role: 'main', contentModel: 'wikitext', contentFormat: 'text/x-wiki', contentSha1: 'lsabt1ebtkezj4hfvt6vj1kpoc8hwkl', contentSizeBytes: 10, originRevisionId: 2, contentBody: null }],
  };
  const text = renderRevisionText(row, 'full');
  assert.match(text, /<text bytes="10" sha1="lsabt1ebtkezj4hfvt6vj1kpoc8hwkl" \/>\n/);
  assert.doesNotMatch(text, /<\/text>/);
  // Its size unknown too (content_size is optional): no bytes="0", which would say it is empty.
  const unsized = { ...row, slots: [{ ...row.slots[0]!, contentSizeBytes: null }] };
  for (const mode of ['full', 'stub'] as const) assert.match(renderRevisionText(unsized, mode), /\n {6}<text sha1="lsabt1ebtkezj4hfvt6vj1kpoc8hwkl" \/>\n/, mode);
  const unhashed = { ...row, slots: [{ ...row.slots[0]!, contentSizeBytes: null, contentSha1: null }] };
  assert.match(renderRevisionText(unhashed, 'full'), /\n {6}<text sha1="" \/>\n/);
});

test('a body is written even when its event states a content_size of 0 (the stated size is kept)', () => {
  const row = (body: string | Uint8Array): DumpRevisionRow => ({
    pageId: 1, pageNamespaceId: 0, pageTitle: 'Sized_zero', pageRedirectTarget: null, revisionId: 2, revisionParentId: null,
    revisionTimestampMs: Date.UTC(2024, 7, 1), revisionIsMinorEdit: false, revisionComment: null, revisionCommentIsVisible: true, revisionSha1: 'x',
    revisionContentIsVisible: true, userId: 7, userText: 'Alice', userIsVisible: true,
    slots: [{ role: 'main', contentModel: 'wikitext', contentFormat: 'text/x-wiki', contentSha1: 'lsabt1ebtkezj4hfvt6vj1kpoc8hwkl', contentSizeBytes: 0, originRevisionId: 2, contentBody: body }],
  });
  for (const body of ['Old & text', new TextEncoder().encode('Old & text')]) {
    assert.match(renderRevisionText(row(body), 'full'), /<text bytes="0" sha1="lsabt1ebtkezj4hfvt6vj1kpoc8hwkl" xml:space="preserve">Old &amp; text<\/text>/);
    assert.match(renderRevisionText(row(body), 'stub'), /<text bytes="0" sha1="lsabt1ebtkezj4hfvt6vj1kpoc8hwkl" \/>/);
  }
  assert.match(renderRevisionText(row(''), 'full'), /<text bytes="0" sha1="lsabt1ebtkezj4hfvt6vj1kpoc8hwkl" \/>/);
});
