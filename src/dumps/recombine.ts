// Recombined files: an output split into parts is also published as one file, as Wikimedia's
// `…recombine` jobs do (operations-dumps xmldumps-backup dumps/recombinejobs.py), under the name the
// output has when it is not split (`enwiki-20240101-pages-articles.xml.bz2`), which is the file most
// users fetch. XML parts are decompressed, stripped of the `<mediawiki>` header (all but the first)
// and of `</mediawiki>` (all but the last), and compressed again, as Wikimedia does; the header and
// footer are checked byte for byte, so parts of another run or version are refused, not glued. The
// multistream needs no recompression: its header and footer are streams of their own, so the file is
// its parts' page streams concatenated, and the index's offsets are shifted to match; pages-articles,
// when the run joined its parts from the multistream's streams, is joined from them the same way.
// Imports core and dumps modules.

import { open, rename, rm, writeFile } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { join } from 'node:path';
import { JobError } from '../core/errors.js';
import { createOwnedTempDir } from '../core/owned-temp-dir.js';
import { syncPath } from '../core/sync-path.js';
import { Bz2StreamJoiner } from './bz2-join.js';
import { CompressedFileWriter, readDecompressed, type Codec, type CompressionTools } from './compress.js';
import { IN_PROGRESS_SUFFIX } from './file-names.js';
import type { WrittenFile } from './xml-dump.js';

interface RecombineCommon {
  /** Folder of the run, holding the parts. */
  readonly directory: string;
  readonly tools: CompressionTools;
  /** Stops the recombination (the run failed or was interrupted); its file is then removed. */
  readonly signal?: AbortSignal;
  /** Awaited before the file is renamed over the name an earlier run's file may have. */
  readonly beforePublish?: () => Promise<void>;
}

export interface RecombineXmlOptions extends RecombineCommon {
  /** The parts in order, at least two. */
  readonly parts: readonly WrittenFile[];
  readonly codec: Codec;
  /**
   * The document's opening up to `</siteinfo>` and its closing, as every part has them. Without a
   * header, the first part's own is read from it: a recombination run apart from the run that
   * wrote the parts (maybe another mwlake version, or another site info) checks them against that.
   */
  readonly header?: string;
  readonly footer: string;
  /** The recombined file's name. */
  readonly name: string;
}

/** Drops the first `header.length` bytes and holds back the last `footer.length`, checking both. */
class PartTrimmer {
  private head: Buffer[] = [];
  private headBytes = 0;
  private held: Buffer = Buffer.alloc(0);

  constructor(
    private readonly path: string,
    private readonly header: Buffer | undefined,
    private readonly footer: Buffer | undefined,
  ) {}

  /** The bytes of `chunk` that belong to the recombined file, in order. */
  *push(chunk: Buffer): Generator<Buffer> {
    if (this.header !== undefined && this.headBytes < this.header.length) {
      this.head.push(chunk);
      this.headBytes += chunk.length;
      if (this.headBytes < this.header.length) return;
      const head = Buffer.concat(this.head);
      this.head = [];
      if (!head.subarray(0, this.header.length).equals(this.header)) throw this.mismatch('start with the run\'s <mediawiki> header and <siteinfo>');
      chunk = head.subarray(this.header.length);
    }
    const keep = this.footer?.length ?? 0;
    if (keep === 0) {
      if (chunk.length > 0) yield chunk;
      return;
    }
    if (chunk.length >= keep) {
      if (this.held.length > 0) yield this.held;
      if (chunk.length > keep) yield chunk.subarray(0, chunk.length - keep);
      this.held = Buffer.from(chunk.subarray(chunk.length - keep));
      return;
    }
    const joined = Buffer.concat([this.held, chunk]);
    if (joined.length > keep) yield joined.subarray(0, joined.length - keep);
    this.held = joined.subarray(Math.max(0, joined.length - keep));
  }

  /** Checks what was held back once the part has ended. */
  end(): void {
    if (this.header !== undefined && this.headBytes < this.header.length) throw this.mismatch('start with the run\'s <mediawiki> header and <siteinfo>');
    if (this.footer !== undefined && !this.held.equals(this.footer)) throw this.mismatch('end with </mediawiki>');
  }

  private mismatch(what: string): JobError {
    return new JobError('DATA', `cannot recombine ${this.path}: it does not ${what} as the run wrote them (a part of another run?); rerun the job`, { context: { path: this.path } });
  }
}

/** `work`, or the signal's reason once it aborts: a stalled compressor must not hold up a stop. */
function unlessStopped<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', stop, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

async function publish(directory: string, renames: readonly (readonly [string, string])[], options: RecombineCommon): Promise<void> {
  await options.beforePublish?.();
  options.signal?.throwIfAborted();
  for (const [temp, name] of renames) await rename(join(directory, temp), join(directory, name));
  await syncPath(directory);
}

/**
 * Writes one file under its in-progress name through `fill`, then publishes it; on failure or a
 * stop (checked before every write) nothing is left under the in-progress name.
 */
async function writeOneFile(options: RecombineCommon, name: string, codec: Codec, fill: (write: (bytes: Uint8Array) => Promise<void>) => Promise<void>): Promise<WrittenFile> {
  const { directory, tools, signal } = options;
  const temp = `${name}${IN_PROGRESS_SUFFIX}`;
  const writer = CompressedFileWriter.open(join(directory, temp), codec, tools);
  try {
    await fill((bytes) => {
      signal?.throwIfAborted();
      return unlessStopped(writer.write(bytes), signal);
    });
    const digest = await unlessStopped(writer.finish(), signal);
    await publish(directory, [[temp, name]], options);
    return { name, ...digest };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** Writes `name` from XML parts; returns the file. On failure or abort nothing is left under `name`'s in-progress name. */
export async function recombineXmlParts(options: RecombineXmlOptions): Promise<WrittenFile> {
  const { directory, parts, codec, tools, name, signal } = options;
  const header = options.header === undefined ? await readPartHeader(join(directory, parts[0]!.name), codec, tools, signal) : Buffer.from(options.header, 'utf8');
  const footer = Buffer.from(options.footer, 'utf8');
  return writeOneFile(options, name, codec, async (write) => {
    for (const [index, part] of parts.entries()) {
      const path = join(directory, part.name);
      const trimmer = new PartTrimmer(path, index > 0 ? header : undefined, index < parts.length - 1 ? footer : undefined);
      for await (const chunk of readDecompressed(path, codec, tools, signal)) {
        for (const bytes of trimmer.push(chunk)) await write(bytes);
      }
      trimmer.end();
    }
  });
}

const SITEINFO_END = Buffer.from('</siteinfo>\n', 'utf8');

/** A part's opening up to and with `</siteinfo>\n` (a few KB: given up on past 1 MiB). */
async function readPartHeader(path: string, codec: Codec, tools: CompressionTools, signal?: AbortSignal): Promise<Buffer> {
  let head = Buffer.alloc(0);
  for await (const chunk of readDecompressed(path, codec, tools, signal)) {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf(SITEINFO_END);
    if (end >= 0) return head.subarray(0, end + SITEINFO_END.length);
    if (head.length > 1 << 20) break;
  }
  throw new JobError('DATA', `cannot recombine ${path}: it does not start with a <mediawiki> header ending in </siteinfo>; rerun the job`, { context: { path } });
}

/** Where a multistream part's page streams are: after its header stream, before its footer stream. */
export interface MultistreamPartLayout {
  readonly xml: WrittenFile;
  readonly index: WrittenFile;
  /** Bytes of the header stream (the `<mediawiki>` opening and `<siteinfo>`). */
  readonly headerBytes: number;
  /** Offset of the footer stream (`</mediawiki>`). */
  readonly footerOffset: number;
}

export interface RecombineMultistreamOptions extends RecombineCommon {
  /** The parts in order, at least two. */
  readonly parts: readonly MultistreamPartLayout[];
  readonly name: string;
  readonly indexName: string;
}

const INDEX_LINE = /^(\d+):/;

/** `BZh`, a block size digit and the first block's magic (0x314159265359): where a bz2 stream starts. */
const STREAM_START = /BZh[1-9]1AY&SY/g;

/** How far from a part's end its footer stream is looked for (it is about 50 bytes). */
const FOOTER_SEARCH_BYTES = 64 * 1024;

export interface MultistreamLayoutOptions {
  readonly directory: string;
  readonly xml: WrittenFile;
  readonly index: WrittenFile;
  readonly tools: CompressionTools;
  /** The document's closing, which the footer stream holds. */
  readonly footer: string;
  readonly signal?: AbortSignal;
}

/**
 * A multistream part's layout read back from its files, for a recombination run apart from the job
 * that wrote them: the header stream ends where the index's first page stream starts, and the
 * footer stream is the part's last bz2 stream, found from the end and checked to hold the footer.
 */
export async function readMultistreamLayout(o: MultistreamLayoutOptions): Promise<MultistreamPartLayout> {
  const indexPath = join(o.directory, o.index.name);
  let head = '';
  // Offsets are ASCII; only the first line is needed.
  for await (const chunk of readDecompressed(indexPath, 'bz2', o.tools, o.signal)) {
    head += chunk.toString('latin1');
    if (head.includes('\n')) break;
  }
  const headerBytes = Number(INDEX_LINE.exec(head)?.[1] ?? NaN);
  if (!(headerBytes > 0)) throw new JobError('DATA', `cannot recombine ${indexPath}: its first line names no page stream; rerun the job`, { context: { path: indexPath } });
  const path = join(o.directory, o.xml.name);
  const file = await open(path, 'r');
  let tail: Buffer;
  let tailStart: number;
  try {
    const size = (await file.stat()).size;
    tailStart = Math.min(size, Math.max(headerBytes, size - FOOTER_SEARCH_BYTES));
    tail = Buffer.alloc(size - tailStart);
    await file.read(tail, 0, tail.length, tailStart);
  } finally {
    await file.close();
  }
  let at = -1;
  for (const match of tail.toString('latin1').matchAll(STREAM_START)) at = match.index;
  const footer = at < 0 ? undefined : await decompressBytes(tail.subarray(at), o.tools, o.signal);
  if (footer !== o.footer) throw new JobError('DATA', `cannot recombine ${path}: its last bz2 stream does not hold the closing </mediawiki>; rerun the job`, { context: { path } });
  return { xml: o.xml, index: o.index, headerBytes, footerOffset: tailStart + at };
}

/** The text of a small bz2 stream (through a file: the decompressor reads files); undefined if it is none. */
async function decompressBytes(bytes: Buffer, tools: CompressionTools, signal?: AbortSignal): Promise<string | undefined> {
  const dir = await createOwnedTempDir('mwlake-stream-check-');
  try {
    const path = join(dir, 'stream.bz2');
    await writeFile(path, bytes);
    const chunks: Buffer[] = [];
    for await (const chunk of readDecompressed(path, 'bz2', tools, signal)) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  } catch (error) {
    signal?.throwIfAborted();
    if (error instanceof JobError && error.code === 'DATA') return undefined;
    throw error;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Calls `line` with each line of a part's index and its stream offset, checked to be one of the
 * part's page streams; returns the distinct offsets in order (the starts of its page streams).
 */
async function readIndex(
  directory: string,
  part: MultistreamPartLayout,
  tools: CompressionTools,
  signal: AbortSignal | undefined,
  line: (offset: number, text: string) => void,
  afterChunk: () => Promise<void> = async () => {},
): Promise<number[]> {
  const path = join(directory, part.index.name);
  const starts: number[] = [];
  const take = (text: string): void => {
    const match = INDEX_LINE.exec(text);
    const offset = match === null ? NaN : Number(match[1]);
    if (!(offset >= part.headerBytes && offset < part.footerOffset && offset >= (starts.at(-1) ?? 0))) {
      throw new JobError('DATA', `cannot recombine ${path}: line ${JSON.stringify(text.slice(0, 80))} names no page stream of ${part.xml.name} in order; rerun the job`, { context: { path } });
    }
    if (offset !== starts.at(-1)) starts.push(offset);
    line(offset, text);
  };
  // Titles are UTF-8: a chunk may end inside a character.
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of readDecompressed(path, 'bz2', tools, signal)) {
    signal?.throwIfAborted();
    const lines = (rest + decoder.write(chunk)).split('\n');
    rest = lines.pop()!;
    for (const text of lines) take(text);
    await afterChunk();
  }
  rest += decoder.end();
  if (rest !== '') take(rest);
  await afterChunk();
  if (starts[0] !== part.headerBytes) throw new JobError('DATA', `cannot recombine ${path}: it does not start at the first page stream of ${part.xml.name}; rerun the job`, { context: { path } });
  return starts;
}

/** The bz2 streams of a part in order: its header stream if `withHeader`, its page streams, its footer stream if `withFooter`. */
async function* partStreams(directory: string, part: MultistreamPartLayout, starts: readonly number[], withHeader: boolean, withFooter: boolean): AsyncGenerator<Buffer> {
  const bounds = [...(withHeader ? [0] : []), ...starts, part.footerOffset, ...(withFooter ? [part.xml.sizeBytes] : [])];
  const file = await open(join(directory, part.xml.name), 'r');
  try {
    for (let i = 0; i + 1 < bounds.length; i++) {
      const bytes = Buffer.allocUnsafe(bounds[i + 1]! - bounds[i]!);
      const { bytesRead } = await file.read(bytes, 0, bytes.length, bounds[i]!);
      if (bytesRead !== bytes.length) throw new JobError('DATA', `cannot recombine ${part.xml.name}: it is shorter than the run wrote it; rerun the job`);
      yield bytes;
    }
  } finally {
    await file.close();
  }
}

/** Writes the multistream file and its index from the parts; returns [file, index]. */
export async function recombineMultistream(options: RecombineMultistreamOptions): Promise<[WrittenFile, WrittenFile]> {
  const { directory, parts, tools, name, indexName, signal } = options;
  const temps = [`${name}${IN_PROGRESS_SUFFIX}`, `${indexName}${IN_PROGRESS_SUFFIX}`] as const;
  const xmlFile = CompressedFileWriter.open(join(directory, temps[0]), 'none', tools);
  const indexFile = CompressedFileWriter.open(join(directory, temps[1]), 'bz2', { ...tools, threads: 1 });
  try {
    for (const [index, part] of parts.entries()) {
      // Where the part's first page stream lands in the recombined file.
      const shift = xmlFile.bytesIn + (index === 0 ? parts[0]!.headerBytes : 0) - part.headerBytes;
      // Written a decompressed chunk at a time: a part's index can be a hundred MB of text.
      let lines = '';
      const starts = await readIndex(
        directory,
        part,
        tools,
        signal,
        (offset, text) => {
          lines += `${offset + shift}${text.slice(String(offset).length)}\n`;
        },
        async () => {
          const bytes = Buffer.from(lines, 'utf8');
          lines = '';
          await unlessStopped(indexFile.write(bytes), signal);
        },
      );
      for await (const stream of partStreams(directory, part, starts, index === 0, index === parts.length - 1)) {
        signal?.throwIfAborted();
        await unlessStopped(xmlFile.write(stream), signal);
      }
    }
    const digests = [await unlessStopped(xmlFile.finish(), signal), await unlessStopped(indexFile.finish(), signal)];
    await publish(directory, [[temps[0], name], [temps[1], indexName]], options);
    return [{ name, ...digests[0]! }, { name: indexName, ...digests[1]! }];
  } catch (error) {
    await xmlFile.abort();
    await indexFile.abort();
    throw error;
  }
}

export interface JoinMultistreamOptions extends RecombineCommon {
  /** The parts in order, at least two. */
  readonly parts: readonly MultistreamPartLayout[];
  /** The single-stream file's name (`pages-articles`). */
  readonly name: string;
}

/**
 * Writes the multistream parts' XML as one bz2 stream (pages-articles), their streams' blocks
 * joined (bz2-join.ts) rather than the XML compressed again, as the run writes each part's.
 */
export async function joinMultistreamParts(options: JoinMultistreamOptions): Promise<WrittenFile> {
  const { directory, parts, tools, signal } = options;
  const joiner = new Bz2StreamJoiner();
  // Already bz2: the writer only counts, hashes and stores the joined bytes.
  return writeOneFile(options, options.name, 'none', async (write) => {
    for (const [index, part] of parts.entries()) {
      const starts = await readIndex(directory, part, tools, signal, () => {});
      for await (const stream of partStreams(directory, part, starts, index === 0, index === parts.length - 1)) await write(joiner.append(stream));
    }
    await write(joiner.finish());
  });
}
