// Writes one XML dump output (pages-meta-history, stubs, ...) from a sorted row stream: renders
// pages and revisions into ~1 MiB chunks, feeds them to a compressor with backpressure, starts a new
// part file at the first page boundary past the size limit, writes every part under an in-progress
// name and renames them all once the output is complete (or removes them on failure).
// Imports core, and the dumps modules for rendering, compression and names.

import { readdir, rename, rm } from 'node:fs/promises';
import { syncPath } from '../core/sync-path.js';
import { join } from 'node:path';
import { JobError } from '../core/errors.js';
import { CompressedFileWriter, type Codec, type CompressionTools, type FileDigest } from './compress.js';
import { dumpFileName, dumpFilePattern, inProgressFileName, type PartRange } from './file-names.js';
import type { DumpRevisionRow } from './records.js';
import type { SiteInfo } from './site-info.js';
import { DOCUMENT_CLOSE, PAGE_CLOSE, renderDocumentOpen, renderPageOpen, renderRevision, type RevisionMode, type XmlSink } from './xml-render.js';

/** A finished file of a dump run, with what checksum files and dumpstatus.json list. */
export interface WrittenFile {
  readonly name: string;
  readonly sizeBytes: number;
  readonly md5: string;
  readonly sha1: string;
}

/**
 * Collects rendered XML pieces and hands them out as one UTF-8 buffer per ~`flushChars` UTF-16
 * units. Pieces are encoded straight into one buffer (no join: a join copies every long content
 * string once more, which costs more than the encoding itself).
 */
export class ChunkBuffer implements XmlSink {
  private parts: (string | Uint8Array)[] = [];
  /** 0 for a UTF-8 string, 1 for latin1 text, 2 for bytes: how each part is written. */
  private kinds: number[] = [];
  private capacity = 0;
  /** Pending UTF-16 code units or bytes: a cheap, deterministic stand-in for the size. */
  pendingChars = 0;

  constructor(private readonly flushChars: number = 256 * 1024) {}

  push(text: string): void {
    this.parts.push(text);
    this.kinds.push(0);
    this.pendingChars += text.length;
    // A UTF-16 code unit never needs more than 3 UTF-8 bytes (a surrogate pair: 4 bytes for 2 units).
    this.capacity += text.length * 3;
  }

  pushLatin1(text: string): void {
    this.parts.push(text);
    this.kinds.push(1);
    this.pendingChars += text.length;
    this.capacity += text.length;
  }

  pushBytes(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.kinds.push(2);
    this.pendingChars += bytes.length;
    this.capacity += bytes.length;
  }

  get full(): boolean {
    return this.pendingChars >= this.flushChars;
  }

  take(): Buffer {
    const buffer = Buffer.allocUnsafe(this.capacity);
    let length = 0;
    const { parts, kinds } = this;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const kind = kinds[i]!;
      if (kind === 0) length += buffer.write(part as string, length, 'utf8');
      else if (kind === 1) length += buffer.write(part as string, length, 'latin1');
      else {
        buffer.set(part as Uint8Array, length);
        length += (part as Uint8Array).length;
      }
    }
    this.parts = [];
    this.kinds = [];
    this.capacity = 0;
    this.pendingChars = 0;
    return buffer.subarray(0, length);
  }
}

/**
 * Full `<revision>` renderings shared by the outputs of one run: each page's latest revision goes
 * into current, articles and multistream, and is rendered (and escaped) once for them. Entries
 * live as long as their row does (a WeakMap: keep rows that only one output writes out of it).
 */
export class RenderedRevisions {
  private readonly byRow = new WeakMap<DumpRevisionRow, Buffer>();

  push(row: DumpRevisionRow, sink: XmlSink): void {
    let bytes = this.byRow.get(row);
    if (bytes === undefined) {
      const one = new ChunkBuffer(Infinity);
      renderRevision(row, 'full', one);
      bytes = one.take();
      this.byRow.set(row, bytes);
    }
    sink.pushBytes(bytes);
  }
}

/** Renders one revision, through `shared` when the output is full and a run shares renderings. */
export function pushRevision(row: DumpRevisionRow, mode: RevisionMode, sink: XmlSink, shared: RenderedRevisions | undefined): void {
  if (mode === 'full' && shared !== undefined) shared.push(row, sink);
  else renderRevision(row, mode, sink);
}

/** Rejects rows that break the source contract: sorted by page id, then revision id, no repeats. */
export class RowOrderCheck {
  private pageId = -Infinity;
  private revisionId = -Infinity;

  constructor(private readonly what: string) {}

  check(row: DumpRevisionRow): void {
    if (!Number.isSafeInteger(row.pageId) || row.pageId <= 0 || !Number.isSafeInteger(row.revisionId) || row.revisionId <= 0) {
      throw new JobError('DATA', `${this.what}: expected positive integer page and revision ids, found page ${row.pageId} revision ${row.revisionId}`, {
        context: { pageId: row.pageId, revisionId: row.revisionId },
      });
    }
    if (row.pageId < this.pageId || (row.pageId === this.pageId && row.revisionId <= this.revisionId)) {
      throw new JobError(
        'DATA',
        `${this.what}: rows must be sorted by page id then revision id; found page ${row.pageId} revision ${row.revisionId} after page ${this.pageId} revision ${this.revisionId}`,
        { context: { pageId: row.pageId, revisionId: row.revisionId } },
      );
    }
    this.pageId = row.pageId;
    this.revisionId = row.revisionId;
  }
}

export interface XmlDumpOptions {
  /** Folder of the run; must exist. */
  readonly directory: string;
  readonly wikiId: string;
  /** YYYYMMDD */
  readonly date: string;
  /** `pages-meta-history`, `stub-meta-history`, `stubs-meta-hist-incr`, ... */
  readonly dumpName: string;
  readonly codec: Codec;
  readonly mode: RevisionMode;
  readonly site: SiteInfo;
  readonly generator: string;
  /** Uncompressed XML bytes after which the next page starts a new part; Infinity writes one file. */
  readonly maxPartBytes: number;
  readonly tools: CompressionTools;
  /** Renderings shared with the other outputs of the run. */
  readonly rendered?: RenderedRevisions;
  /**
   * When given, the files an earlier run of this output left (another part split) are not removed
   * once this output is published, nor when it fails: their patterns are added here, for the
   * caller to remove once latest/ no longer links them (or to keep, when its run published nothing).
   */
  readonly deferStale?: RegExp[];
  /** Awaited before the finished parts are renamed over the names an earlier run's files may have. */
  readonly beforePublish?: () => Promise<void>;
}

/** A finished part under its in-progress name(s): the XML file, and for multistream its index. */
export interface PendingPart {
  readonly tempNames: readonly string[];
  readonly digests: readonly FileDigest[];
  readonly firstPageId: number | undefined;
  readonly lastPageId: number | undefined;
}

/**
 * Removes the files of this output but `keep`: what an earlier, interrupted or differently split
 * run left behind. Called once the new files are published (so a rerun of the newest date never
 * leaves latest/ dangling while it writes), and with nothing kept when the output fails.
 */
export async function removeStaleFiles(directory: string, patterns: readonly RegExp[], keep: readonly WrittenFile[] = []): Promise<void> {
  const kept = new Set(keep.map((file) => file.name));
  for (const name of await readdir(directory)) {
    if (!kept.has(name) && patterns.some((pattern) => pattern.test(name))) await rm(join(directory, name), { force: true });
  }
}

/** A failed output's earlier files: removed, or left to the caller that defers them. */
export async function removeOrDeferStale(directory: string, stale: readonly RegExp[], deferStale: RegExp[] | undefined): Promise<void> {
  if (deferStale === undefined) await removeStaleFiles(directory, stale);
  else deferStale.push(...stale);
}

/**
 * Renames finished parts to their final names: one part keeps the plain name, several get
 * `<n>.<type>-p<first>p<last>`. `nameOf(fileIndex, range)` names the fileIndex-th file of a part.
 */
export async function publishParts(
  directory: string,
  parts: readonly PendingPart[],
  nameOf: (fileIndex: number, range: PartRange | undefined) => string,
): Promise<WrittenFile[]> {
  const written: WrittenFile[] = [];
  const names = parts.map((part, index) =>
    part.tempNames.map((_temp, fileIndex) =>
      nameOf(
        fileIndex,
        parts.length === 1 ? undefined : { partNumber: index + 1, firstPageId: part.firstPageId ?? 0, lastPageId: part.lastPageId ?? 0 },
      ),
    ),
  );
  for (const [index, part] of parts.entries()) {
    for (const [fileIndex, temp] of part.tempNames.entries()) {
      const name = names[index]![fileIndex]!;
      await rename(join(directory, temp), join(directory, name));
      written.push({ name, ...part.digests[fileIndex]! });
    }
  }
  await syncPath(directory);
  return written;
}

/** Streams `rows` into the output's part files and publishes them; returns the files in part order. */
export async function writeXmlDump(rows: AsyncIterable<DumpRevisionRow>, options: XmlDumpOptions): Promise<WrittenFile[]> {
  const { directory, wikiId, date, dumpName, codec, mode, site, generator, maxPartBytes, tools } = options;
  const stale = [dumpFilePattern(wikiId, date, dumpName, 'xml')];
  const order = new RowOrderCheck(`${dumpName} of ${wikiId}`);
  const header = renderDocumentOpen(site, generator);
  const buffer = new ChunkBuffer();
  const parts: PendingPart[] = [];
  let writer: CompressedFileWriter | undefined;
  let tempName = '';
  let firstPageId: number | undefined;
  let lastPageId: number | undefined;

  const openPart = (): CompressedFileWriter => {
    tempName = inProgressFileName(wikiId, date, dumpName, 'xml', codec, parts.length + 1);
    writer = CompressedFileWriter.open(join(directory, tempName), codec, tools);
    firstPageId = undefined;
    lastPageId = undefined;
    buffer.push(header);
    return writer;
  };
  const closePart = async (open: CompressedFileWriter): Promise<void> => {
    buffer.push(DOCUMENT_CLOSE);
    await open.write(buffer.take());
    const digest = await open.finish();
    parts.push({ tempNames: [tempName], digests: [digest], firstPageId, lastPageId });
    writer = undefined;
  };

  try {
    // The first part's compressor starts before the first row is awaited: spawning it later, once
    // the source's read holds hundreds of MB, made the fork copy their page tables (0.1 s of CPU).
    openPart();
    for await (const row of rows) {
      order.check(row);
      let open = writer;
      if (row.pageId !== lastPageId) {
        if (open !== undefined && lastPageId !== undefined) {
          buffer.push(PAGE_CLOSE);
          if (open.bytesIn + buffer.pendingChars >= maxPartBytes) {
            await closePart(open);
            open = undefined;
          }
        }
        open ??= openPart();
        firstPageId ??= row.pageId;
        lastPageId = row.pageId;
        buffer.push(renderPageOpen(row, site));
      }
      pushRevision(row, mode, buffer, options.rendered);
      if (buffer.full) await open!.write(buffer.take());
    }
    if (lastPageId !== undefined) buffer.push(PAGE_CLOSE);
    await closePart(writer ?? openPart());
    await options.beforePublish?.();
    const files = await publishParts(directory, parts, (_fileIndex, range) => dumpFileName(wikiId, date, dumpName, 'xml', codec, range));
    if (options.deferStale === undefined) await removeStaleFiles(directory, stale, files);
    else options.deferStale.push(...stale);
    return files;
  } catch (error) {
    await writer?.abort();
    for (const part of parts) for (const temp of part.tempNames) await rm(join(directory, temp), { force: true });
    await removeOrDeferStale(directory, stale, options.deferStale);
    throw error;
  }
}
