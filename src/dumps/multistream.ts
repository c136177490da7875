// pages-articles-multistream: concatenated bz2 streams of 100 pages each (the first stream holds
// only the header and <siteinfo>, the last only `</mediawiki>`), and the index file of
// `offset:page_id:title` lines, offset being the byte position of the page's stream in the part
// file (as recompressxml --pagesperstream 100 --buildindex writes them; notes §4).
// Streams are compressed in parallel by a pool of single-threaded bz2 workers (stream-pool.ts) and
// written in order, so the output does not depend on the pool size. The same XML as one bz2 stream
// (pages-articles) can be written beside it from those compressed streams (bz2-join.ts), with the
// same parts. Imports core and dumps modules.

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CompressedFileWriter, type CompressionTools } from './compress.js';
import { Bz2StreamJoiner } from './bz2-join.js';
import { indexTitle } from './escape.js';
import { dumpFileName, dumpFilePattern, inProgressFileName } from './file-names.js';
import type { DumpRevisionRow } from './records.js';
import type { SiteInfo } from './site-info.js';
import type { MultistreamPartLayout } from './recombine.js';
import { Bzip2StreamPool } from './stream-pool.js';
import { ChunkBuffer, publishParts, pushRevision, removeOrDeferStale, removeStaleFiles, RowOrderCheck, type PendingPart, type RenderedRevisions, type WrittenFile } from './xml-dump.js';
import { DOCUMENT_CLOSE, PAGE_CLOSE, pageTitleText, renderDocumentOpen, renderPageOpen } from './xml-render.js';

export const PAGES_PER_STREAM = 100;

export interface MultistreamOptions {
  readonly directory: string;
  readonly wikiId: string;
  readonly date: string;
  /** `pages-articles-multistream`; the index is `<dumpName>-index`. */
  readonly dumpName: string;
  readonly site: SiteInfo;
  readonly generator: string;
  /** Uncompressed XML bytes after which the next stream starts a new part; Infinity writes one file. */
  readonly maxPartBytes: number;
  readonly tools: CompressionTools;
  /** Pages per bz2 stream (100 in Wikimedia's dumps). */
  readonly pagesPerStream?: number;
  /** Renderings shared with the other outputs of the run. */
  readonly rendered?: RenderedRevisions;
  /**
   * Also write the XML as one bz2 stream per part under this dump name (`pages-articles`), joined
   * from the multistream's compressed streams instead of compressing the XML again.
   */
  readonly singleStreamName?: string;
  /** As XmlDumpOptions.deferStale. */
  readonly deferStale?: RegExp[];
  /** As XmlDumpOptions.beforePublish. */
  readonly beforePublish?: () => Promise<void>;
}

export interface MultistreamFiles {
  /** The multistream parts and their indexes, part by part. */
  readonly files: WrittenFile[];
  /** Each part's files and where its page streams are (to recombine the parts). */
  readonly layout: MultistreamPartLayout[];
  /** The single-stream parts (empty without `singleStreamName`), with the same page ranges. */
  readonly singleStream: WrittenFile[];
}

interface QueuedStream {
  readonly compressed: Promise<Buffer>;
  readonly kind: 'header' | 'pages' | 'footer';
  /** Index lines without the offset: `:<page_id>:<title>\n` per page; empty for header and footer. */
  readonly indexSuffixes: readonly string[];
}

/** Streams `rows` (one per page: the current revision) into multistream part files and their indexes. */
export async function writeMultistreamDump(rows: AsyncIterable<DumpRevisionRow>, options: MultistreamOptions): Promise<MultistreamFiles> {
  const { directory, wikiId, date, dumpName, site, generator, maxPartBytes, tools, singleStreamName } = options;
  const pagesPerStream = options.pagesPerStream ?? PAGES_PER_STREAM;
  const indexName = `${dumpName}-index`;
  const stale = [dumpFilePattern(wikiId, date, dumpName, 'xml'), dumpFilePattern(wikiId, date, indexName, 'txt')];
  if (singleStreamName !== undefined) stale.push(dumpFilePattern(wikiId, date, singleStreamName, 'xml'));
  const order = new RowOrderCheck(`${dumpName} of ${wikiId}`);
  const pool = await Bzip2StreamPool.start(tools);
  const maxQueued = tools.threads * 2 + 1;
  const indexTools: CompressionTools = { ...tools, threads: 1 };
  const header = renderDocumentOpen(site, generator);
  const parts: PendingPart[] = [];

  let xmlFile: CompressedFileWriter | undefined;
  let indexFile: CompressedFileWriter | undefined;
  let singleFile: { readonly writer: CompressedFileWriter; readonly joiner: Bz2StreamJoiner } | undefined;
  let tempNames: string[] = [];
  let queue: QueuedStream[] = [];
  let offset = 0;
  let headerBytes = 0;
  let footerOffset = 0;
  const streams: { headerBytes: number; footerOffset: number }[] = [];
  let partInputBytes = 0;
  let firstPageId: number | undefined;
  let lastPageId: number | undefined;

  const chunk = new ChunkBuffer(Infinity);
  let chunkPages: string[] = [];

  const enqueue = (text: Buffer, kind: QueuedStream['kind'], indexSuffixes: readonly string[]): void => {
    const compressed = pool.compress(text);
    compressed.catch(() => {});
    queue.push({ compressed, kind, indexSuffixes });
    partInputBytes += text.length;
  };
  const writeHead = async (): Promise<void> => {
    const head = queue.shift()!;
    const bytes = await head.compressed;
    if (head.kind === 'header') headerBytes = bytes.length;
    else if (head.kind === 'footer') footerOffset = offset;
    if (head.indexSuffixes.length > 0) {
      let lines = '';
      for (const suffix of head.indexSuffixes) lines += `${offset}${suffix}`;
      await indexFile!.write(Buffer.from(lines, 'utf8'));
    }
    await xmlFile!.write(bytes);
    if (singleFile !== undefined) await singleFile.writer.write(singleFile.joiner.append(bytes));
    offset += bytes.length;
  };
  const openPart = (): void => {
    const number = parts.length + 1;
    tempNames = [inProgressFileName(wikiId, date, dumpName, 'xml', 'bz2', number), inProgressFileName(wikiId, date, indexName, 'txt', 'bz2', number)];
    xmlFile = CompressedFileWriter.open(join(directory, tempNames[0]!), 'none', tools);
    indexFile = CompressedFileWriter.open(join(directory, tempNames[1]!), 'bz2', indexTools);
    if (singleStreamName !== undefined) {
      tempNames.push(inProgressFileName(wikiId, date, singleStreamName, 'xml', 'bz2', number));
      // Already bz2: the writer only counts, hashes and stores the joined bytes.
      singleFile = { writer: CompressedFileWriter.open(join(directory, tempNames[2]!), 'none', tools), joiner: new Bz2StreamJoiner() };
    }
    offset = 0;
    partInputBytes = 0;
    firstPageId = undefined;
    lastPageId = undefined;
    enqueue(Buffer.from(header, 'utf8'), 'header', []);
  };
  const flushStream = async (): Promise<void> => {
    if (chunkPages.length === 0) return;
    enqueue(chunk.take(), 'pages', chunkPages);
    chunkPages = [];
    while (queue.length >= maxQueued) await writeHead();
  };
  const closePart = async (): Promise<void> => {
    enqueue(Buffer.from(DOCUMENT_CLOSE, 'utf8'), 'footer', []);
    while (queue.length > 0) await writeHead();
    const digests = [await xmlFile!.finish(), await indexFile!.finish()];
    if (singleFile !== undefined) {
      await singleFile.writer.write(singleFile.joiner.finish());
      digests.push(await singleFile.writer.finish());
    }
    parts.push({ tempNames, digests, firstPageId, lastPageId });
    streams.push({ headerBytes, footerOffset });
    xmlFile = undefined;
    indexFile = undefined;
    singleFile = undefined;
  };

  try {
    for await (const row of rows) {
      order.check(row);
      if (row.pageId !== lastPageId) {
        if (lastPageId !== undefined) {
          chunk.push(PAGE_CLOSE);
          if (chunkPages.length >= pagesPerStream) {
            await flushStream();
            if (partInputBytes >= maxPartBytes) await closePart();
          }
        }
        if (xmlFile === undefined) openPart();
        firstPageId ??= row.pageId;
        lastPageId = row.pageId;
        chunk.push(renderPageOpen(row, site));
        chunkPages.push(`:${row.pageId}:${indexTitle(pageTitleText(row, site))}\n`);
      }
      pushRevision(row, 'full', chunk, options.rendered);
    }
    if (lastPageId !== undefined) chunk.push(PAGE_CLOSE);
    if (xmlFile === undefined) openPart();
    await flushStream();
    await closePart();
    // Each part's files are [xml, index, single stream?]: published as two sets of parts.
    const filesOf = (from: number, to: number): PendingPart[] =>
      parts.map((part) => ({ ...part, tempNames: part.tempNames.slice(from, to), digests: part.digests.slice(from, to) }));
    await options.beforePublish?.();
    const files = await publishParts(directory, filesOf(0, 2), (fileIndex, range) =>
      fileIndex === 0 ? dumpFileName(wikiId, date, dumpName, 'xml', 'bz2', range) : dumpFileName(wikiId, date, indexName, 'txt', 'bz2', range),
    );
    const singleStream =
      singleStreamName === undefined ? [] : await publishParts(directory, filesOf(2, 3), (_fileIndex, range) => dumpFileName(wikiId, date, singleStreamName, 'xml', 'bz2', range));
    if (options.deferStale === undefined) await removeStaleFiles(directory, stale, [...files, ...singleStream]);
    else options.deferStale.push(...stale);
    const layout = streams.map((part, index) => ({ ...part, xml: files[2 * index]!, index: files[2 * index + 1]! }));
    return { files, layout, singleStream };
  } catch (error) {
    await Promise.allSettled(queue.map((queued) => queued.compressed));
    await xmlFile?.abort();
    await indexFile?.abort();
    await singleFile?.writer.abort();
    for (const part of parts) for (const temp of part.tempNames) await rm(join(directory, temp), { force: true });
    await removeOrDeferStale(directory, stale, options.deferStale);
    throw error;
  } finally {
    await pool.close();
  }
}
