// Shared by the dumps tests: a small site, golden-case loading, decompression with the Debian tools,
// export-0.11 validation with xmllint, and reading dumps back with mwxml (interop venv).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { DumpRevisionRow, DumpSlot } from '../../src/dumps/records.js';
import type { SiteInfo } from '../../src/dumps/site-info.js';
import { interopScript, pythonBin, runPythonJsonLines, type JsonObject } from '../helpers/python.js';

/** The repository root (tests run from dist/test/dumps/). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const dumpsTestDir = join(repoRoot, 'test', 'dumps');
export const goldenDir = join(dumpsTestDir, 'golden');

/** shared/reference/wikimedia beside the checkout (CI clones main with shared/ beside it). */
export const referenceDir = join(repoRoot, '..', 'shared', 'reference', 'wikimedia');
export const exportXsdPath = join(referenceDir, 'export-0.11.xsd');
export const namespaceMapPath = join(referenceDir, 'siteinfo', 'wmf_raw_mediawiki_project_namespace_map.sample.json.gz');

export const GENERATOR_VERSION = '0.0.0-test';

/** A small site for golden files: what matters is that it is fixed. */
export const TEST_SITE: SiteInfo = {
  dbName: 'testwiki',
  siteName: 'Test Wiki',
  base: 'https://test.example.org/wiki/Main_Page',
  languageCode: 'en',
  caseSetting: 'first-letter',
  namespaces: [
    { key: -2, name: 'Media', caseSetting: 'first-letter', isContent: false },
    { key: -1, name: 'Special', caseSetting: 'first-letter', isContent: false },
    { key: 0, name: '', caseSetting: 'first-letter', isContent: true },
    { key: 1, name: 'Talk', caseSetting: 'first-letter', isContent: false },
    { key: 2, name: 'User', caseSetting: 'first-letter', isContent: false },
    { key: 4, name: 'Test Wiki', caseSetting: 'first-letter', isContent: false },
    { key: 6, name: 'File', caseSetting: 'first-letter', isContent: false },
    { key: 10, name: 'Template', caseSetting: 'first-letter', isContent: false },
    { key: 14, name: 'Category', caseSetting: 'first-letter', isContent: false },
    { key: 100, name: 'Portal & "Q"', caseSetting: 'case-sensitive', isContent: true },
  ],
};

/** A golden input line: a DumpRevisionRow, with `revisionDt` (ISO) allowed instead of the ms. */
type GoldenRow = Omit<DumpRevisionRow, 'revisionTimestampMs' | 'slots'> & {
  revisionDt?: string;
  revisionTimestampMs?: number;
  slots: (Omit<DumpSlot, 'contentSizeBytes'> & { contentSizeBytes?: number | null })[];
};

/** Reads a golden case's input.jsonl into rows; a slot without contentSizeBytes gets the body's UTF-8 length. */
export function readGoldenRows(caseDir: string): DumpRevisionRow[] {
  return readFileSync(join(caseDir, 'input.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const raw = JSON.parse(line) as GoldenRow;
      const { revisionDt, ...rest } = raw;
      const timestampMs = raw.revisionTimestampMs ?? Date.parse(revisionDt ?? '');
      assert.ok(Number.isFinite(timestampMs), `${caseDir}: row without a valid revisionDt: ${line}`);
      return {
        ...rest,
        revisionTimestampMs: timestampMs,
        slots: raw.slots.map((slot) => ({
          ...slot,
          contentSizeBytes: slot.contentSizeBytes === undefined ? Buffer.byteLength(slot.contentBody ?? '', 'utf8') : slot.contentSizeBytes,
        })),
      } as DumpRevisionRow;
    });
}

function run(command: string, args: readonly string[], input?: Buffer): Buffer {
  const result = spawnSync(command, args, { input, maxBuffer: 1 << 30 });
  if (result.error) throw result.error;
  assert.equal(result.status, 0, `${command} ${args.join(' ')} failed: ${result.stderr.toString().slice(-2000)}`);
  return result.stdout;
}

/** The bytes of a dump file, decompressed by its suffix (bz2 via `bzip2 -dc`, which reads every stream). */
export function decompressFile(path: string): Buffer {
  if (path.endsWith('.bz2')) return run('bzip2', ['-dc', path]);
  if (path.endsWith('.zst')) return run('zstd', ['-dc', '-q', path]);
  const bytes = readFileSync(path);
  return path.endsWith('.gz') ? gunzipSync(bytes) : bytes;
}

/** Decompresses bz2 bytes (one or more streams). */
export function bunzip2(bytes: Buffer): Buffer {
  return run('bzip2', ['-dc'], bytes);
}

// Python's BZ2Decompressor stops at the end of the first stream, as single-stream readers do.
const ONE_STREAM_SCRIPT = `import bz2, sys
d = bz2.BZ2Decompressor()
out = d.decompress(sys.stdin.buffer.read())
if not d.eof or d.unused_data:
    sys.exit(f"not one bz2 stream: eof={d.eof}, {len(d.unused_data)} bytes after the first stream")
sys.stdout.buffer.write(out)`;

/** Decompresses bz2 bytes that must be exactly one stream (Python's single-stream decompressor). */
export function bunzip2OneStream(bytes: Buffer): Buffer {
  return run(pythonBin(), ['-c', ONE_STREAM_SCRIPT], bytes);
}

let schemas: { strict: string; relaxed: string } | undefined;

/**
 * Two copies of export-0.11.xsd importing our local xml.xsd: the strict one as published, and one
 * where only `bytes` of <text> may be negative (the `bytes="-1"` of hidden content, the one form we
 * keep although the XSD rejects it).
 */
function schemaFiles(): { strict: string; relaxed: string } {
  if (schemas !== undefined) return schemas;
  assert.ok(existsSync(exportXsdPath), `export-0.11.xsd missing at ${exportXsdPath}: shared/reference must be checked out beside the repository`);
  const dir = mkdtempSync(join(tmpdir(), 'mwlake-xsd-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const xsd = readFileSync(exportXsdPath, 'utf8').replace('http://www.w3.org/2001/xml.xsd', join(dumpsTestDir, 'vectors', 'xml.xsd'));
  assert.notEqual(xsd, readFileSync(exportXsdPath, 'utf8'), 'export-0.11.xsd no longer imports http://www.w3.org/2001/xml.xsd');
  const bytesAttribute = '<attribute name="bytes" type="nonNegativeInteger" />';
  assert.equal(xsd.split(bytesAttribute).length - 1, 2, 'expected the bytes attribute on TextType and ContentTextType');
  const strict = join(dir, 'export-0.11.xsd');
  const relaxed = join(dir, 'export-0.11-negative-bytes.xsd');
  writeFileSync(strict, xsd);
  writeFileSync(relaxed, xsd.replaceAll(bytesAttribute, '<attribute name="bytes" type="integer" />'));
  schemas = { strict, relaxed };
  return schemas;
}

function xmllint(schema: string, xml: Buffer): { status: number | null; errors: string[] } {
  const result = spawnSync('xmllint', ['--noout', '--nonet', '--schema', schema, '-'], { input: xml, maxBuffer: 1 << 30 });
  if (result.error) throw result.error;
  const errors = result.stderr
    .toString()
    .split('\n')
    .filter((line) => line !== '' && !/ validates$/.test(line) && !/ fails to validate$/.test(line));
  return { status: result.status, errors };
}

const NEGATIVE_BYTES_ERROR = /element text: Schemas validity error : Element '\{http:\/\/www\.mediawiki\.org\/xml\/export-0\.11\/\}text', attribute 'bytes': '-1' is not a valid value of the atomic type 'xs:nonNegativeInteger'\.$/;

/**
 * Asserts that `xml` is a valid export-0.11 document (xmllint against the XSD): the only errors
 * allowed are `bytes="-1"` on hidden `<text>`, one per such element, and with that one attribute
 * relaxed the document validates with no error at all.
 */
export function assertValidExport(xml: Buffer, what: string): void {
  const { strict, relaxed } = schemaFiles();
  const strictRun = xmllint(strict, xml);
  const unexpected = strictRun.errors.filter((line) => !NEGATIVE_BYTES_ERROR.test(line));
  assert.deepEqual(unexpected, [], `${what}: xmllint --schema export-0.11.xsd reported errors`);
  const hiddenTexts = xml.toString('utf8').split('<text bytes="-1" deleted="deleted" />').length - 1;
  assert.equal(strictRun.errors.length, hiddenTexts, `${what}: expected one bytes="-1" error per hidden text`);
  assert.equal(strictRun.status, hiddenTexts === 0 ? 0 : 3, `${what}: xmllint exit status`);
  const relaxedRun = xmllint(relaxed, xml);
  assert.deepEqual(relaxedRun.errors, [], `${what}: errors against the XSD with negative bytes allowed`);
  assert.equal(relaxedRun.status, 0, `${what}: xmllint exit status against the relaxed XSD`);
}

/** Parses a dump file (plain, .gz or .bz2) with mwxml; returns its JSON lines. */
export async function readWithMwxml(path: string): Promise<JsonObject[]> {
  const result = await runPythonJsonLines(interopScript('mwxml_read.py'), [path]);
  return result.lines;
}

export function caseDirs(): string[] {
  return readdirSync(goldenDir)
    .sort().filter((name) => existsSync(join(goldenDir, name, 'input.jsonl')));
}

/** The names in a latest/ folder that are links (its `-rss.xml` feeds, and one a crash left half-written, left out); rejects as readdir does. */
export async function latestLinks(latestDir: string): Promise<string[]> {
  return (await readdir(latestDir)).filter((name) => !/-rss\.xml(?:\.inprog)?$/.test(name));
}
