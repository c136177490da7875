// Recombined files: an output split into parts is also published as one file, as Wikimedia's
// `…recombine` jobs do (operations-dumps xmldumps-backup dumps/recombinejobs.py), under the name the
// output has when it is not split (`enwiki-20240101-pages-articles.xml.bz2`), which is the file most
// users fetch. XML parts are decompressed, stripped of the `<mediawiki>` header (all but the first)
// and of `</mediawiki>` (all but the last), and compressed again, as Wikimedia does; the header and
// footer are checked byte for byte, so parts of another run or version are refused, not glued. The
// multistream needs no recompression: its header and footer are streams of their own, so the file is
// its parts' page streams concatenated, and the index's offsets are shifted to match.
// Imports core and dumps modules.

import { createReadStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { JobError } from '../core/errors.js';
import { syncPath } from '../core/sync-path.js';
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
  /** The document's opening up to `</siteinfo>` and its closing, as every part has them. */
  readonly header: string;
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

async function publish(directory: string, renames: readonly (readonly [string, string])[], beforePublish: (() => Promise<void>) | undefined): Promise<void> {
  await beforePublish?.();
  for (const [temp, name] of renames) await rename(join(directory, temp), join(directory, name));
  await syncPath(directory);
}

/** Writes `name` from XML parts; returns the file. On failure or abort nothing is left under `name`'s in-progress name. */
export async function recombineXmlParts(options: RecombineXmlOptions): Promise<WrittenFile> {
  const { directory, parts, codec, tools, name, signal } = options;
  const header = Buffer.from(options.header, 'utf8');
  const footer = Buffer.from(options.footer, 'utf8');
  const temp = `${name}${IN_PROGRESS_SUFFIX}`;
  const writer = CompressedFileWriter.open(join(directory, temp), codec, tools);
  try {
    for (const [index, part] of parts.entries()) {
      const path = join(directory, part.name);
      const trimmer = new PartTrimmer(path, index > 0 ? header : undefined, index < parts.length - 1 ? footer : undefined);
      for await (const chunk of readDecompressed(path, codec, tools)) {
        signal?.throwIfAborted();
        for (const bytes of trimmer.push(chunk)) await writer.write(bytes);
      }
      trimmer.end();
    }
    const digest = await writer.finish();
    await publish(directory, [[temp, name]], options.beforePublish);
    return { name, ...digest };
  } catch (error) {
    await writer.abort();
    throw error;
  }
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

/** Writes the multistream file and its index from the parts; returns [file, index]. */
export async function recombineMultistream(options: RecombineMultistreamOptions): Promise<[WrittenFile, WrittenFile]> {
  const { directory, parts, tools, name, indexName, signal } = options;
  const temps = [`${name}${IN_PROGRESS_SUFFIX}`, `${indexName}${IN_PROGRESS_SUFFIX}`] as const;
  const xmlFile = CompressedFileWriter.open(join(directory, temps[0]), 'none', tools);
  const indexFile = CompressedFileWriter.open(join(directory, temps[1]), 'bz2', { ...tools, threads: 1 });
  try {
    let written = 0;
    for (const [index, part] of parts.entries()) {
      const from = index === 0 ? 0 : part.headerBytes;
      const to = index === parts.length - 1 ? part.xml.sizeBytes : part.footerOffset;
      const shift = written - from;
      const indexPath = join(directory, part.index.name);
      let rest = '';
      const shifted = (line: string): string => {
        const match = INDEX_LINE.exec(line);
        const offset = match === null ? NaN : Number(match[1]);
        if (!(offset >= part.headerBytes && offset < part.footerOffset)) {
          throw new JobError('DATA', `cannot recombine ${indexPath}: line ${JSON.stringify(line.slice(0, 80))} names no page stream of ${part.xml.name}; rerun the job`, { context: { path: indexPath } });
        }
        return `${offset + shift}${line.slice(match![1]!.length)}\n`;
      };
      for await (const chunk of readDecompressed(indexPath, 'bz2', tools)) {
        signal?.throwIfAborted();
        const lines = (rest + chunk.toString('utf8')).split('\n');
        rest = lines.pop()!;
        await indexFile.write(Buffer.from(lines.map(shifted).join(''), 'utf8'));
      }
      if (rest !== '') await indexFile.write(Buffer.from(shifted(rest), 'utf8'));
      if (to > from) {
        for await (const chunk of createReadStream(join(directory, part.xml.name), { start: from, end: to - 1 })) {
          signal?.throwIfAborted();
          await xmlFile.write(chunk as Buffer);
        }
      }
      written += to - from;
    }
    const digests = [await xmlFile.finish(), await indexFile.finish()];
    if (digests[0]!.sizeBytes !== written) throw new JobError('DATA', `cannot recombine ${name}: its parts changed while they were read; rerun the job`);
    await publish(directory, [[temps[0], name], [temps[1], indexName]], options.beforePublish);
    return [{ name, ...digests[0]! }, { name: indexName, ...digests[1]! }];
  } catch (error) {
    await xmlFile.abort();
    await indexFile.abort();
    throw error;
  }
}
