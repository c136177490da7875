// The page title lists of a dump run, as Wikimedia's pagetitlesdump and allpagetitlesdump write
// them with `mysql -r` (raw: no escapes) over the page table: `all-titles-in-ns0.gz` (a `page_title`
// header, then one DB-key title per line) and `all-titles.gz` (a `page_namespace<TAB>page_title`
// header, then one namespace and title per line), gzip, in (namespace, title) order as the
// name_title index yields.
// Imports core and the dumps modules for compression and names.

import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { JobError } from '../core/errors.js';
import { syncPath } from '../core/sync-path.js';
import { CompressedFileWriter, type CompressionTools } from './compress.js';
import { fileNamePattern, IN_PROGRESS_SUFFIX } from './file-names.js';
import type { PageTitle } from './records.js';
import type { WrittenFile } from './xml-dump.js';

export type TitleList = 'all-titles-in-ns0' | 'all-titles';

/** The dumpstatus.json job of each list (Wikimedia's names). */
export const TITLE_LIST_JOBS: Readonly<Record<TitleList, string>> = { 'all-titles-in-ns0': 'pagetitlesdump', 'all-titles': 'allpagetitlesdump' };

export interface TitleListOptions {
  /** Folder of the run; must exist. */
  readonly directory: string;
  readonly wikiId: string;
  /** YYYYMMDD */
  readonly date: string;
  readonly lists: readonly TitleList[];
  readonly tools: CompressionTools;
  /** Awaited before the files are renamed over the names an earlier run's files may have. */
  readonly beforePublish?: () => Promise<void>;
  /** Stops the lists (the run failed or was stopped), even while the source has not answered. */
  readonly signal?: AbortSignal;
  /** As XmlDumpOptions.deferStale: on failure, the earlier run's list files are left to the caller. */
  readonly deferStale?: RegExp[];
}

/** `enwiki-20240101-all-titles-in-ns0.gz`: no file type, as Wikimedia names it. */
export function titleListFileName(wikiId: string, date: string, list: TitleList): string {
  return `${wikiId}-${date}-${list}.gz`;
}

/** Flush size of the text handed to a compressor. */
const CHUNK_CHARS = 1 << 20;

interface ListFile {
  readonly list: TitleList;
  readonly name: string;
  readonly temp: string;
  readonly writer: CompressedFileWriter;
  text: string;
}

/**
 * Writes `lists` in one read of `titles` (sorted by namespace, then title), each under its
 * in-progress name, and renames them into place once all are complete; on failure removes what it
 * wrote, and the files of the lists an earlier run published (as a failed XML output does).
 * Titles out of order are refused with DATA.
 */
export async function writeTitleLists(titles: AsyncIterable<PageTitle>, o: TitleListOptions): Promise<Map<TitleList, WrittenFile>> {
  if (o.signal?.aborted === true) {
    await removeTitleLists(o.directory, o.wikiId, o.date, o.lists, o.deferStale);
    throw o.signal.reason;
  }
  const files: ListFile[] = o.lists.map((list) => {
    const name = titleListFileName(o.wikiId, o.date, list);
    const temp = join(o.directory, name + IN_PROGRESS_SUFFIX);
    return { list, name, temp, writer: CompressedFileWriter.open(temp, 'gz', o.tools), text: list === 'all-titles-in-ns0' ? 'page_title\n' : 'page_namespace\tpage_title\n' };
  });
  const flush = async (file: ListFile): Promise<void> => {
    await file.writer.write(Buffer.from(file.text, 'utf8'));
    file.text = '';
  };
  let previous: PageTitle | undefined;
  const source = titles[Symbol.asyncIterator]();
  const stopped = abortedPromise(o.signal);
  try {
    for (;;) {
      const next = await Promise.race([source.next(), stopped.promise]);
      if (next.done === true) break;
      const t = next.value;
      if (previous !== undefined && comparePageTitles(previous, t) > 0) {
        throw new JobError('DATA', `title lists of ${o.wikiId}: titles out of order: ${previous.namespaceId}:${previous.title} before ${t.namespaceId}:${t.title}`);
      }
      previous = t;
      const title = escapeField(t.title);
      for (const file of files) {
        if (file.list === 'all-titles-in-ns0') {
          if (t.namespaceId !== 0) continue;
          file.text += `${title}\n`;
        } else file.text += `${t.namespaceId}\t${title}\n`;
        if (file.text.length >= CHUNK_CHARS) await flush(file);
      }
    }
    stopped.forget();
    const written = new Map<TitleList, WrittenFile>();
    for (const file of files) {
      await flush(file);
      written.set(file.list, { name: file.name, ...(await file.writer.finish()) });
    }
    await o.beforePublish?.();
    for (const file of files) await rename(file.temp, join(o.directory, file.name));
    await syncPath(o.directory);
    return written;
  } catch (error) {
    stopped.forget();
    // Not awaited: a source still sorting answers return() only once its pending read has.
    void source.return?.().catch(() => undefined);
    for (const file of files) {
      await file.writer.abort();
      await rm(file.temp, { force: true });
    }
    await removeTitleLists(o.directory, o.wikiId, o.date, o.lists, o.deferStale);
    throw error;
  }
}

/** Namespace, then title by UTF-8 bytes (MySQL's binary collation of page_title). */
export function comparePageTitles(a: PageTitle, b: PageTitle): number {
  return a.namespaceId - b.namespaceId || Buffer.compare(Buffer.from(a.title, 'utf8'), Buffer.from(b.title, 'utf8'));
}

/** Removes the published files of `lists` (an earlier run's, when this one failed), or defers them (XmlDumpOptions.deferStale). */
export async function removeTitleLists(directory: string, wikiId: string, date: string, lists: readonly TitleList[], deferStale?: RegExp[]): Promise<void> {
  for (const list of lists) {
    const name = titleListFileName(wikiId, date, list);
    if (deferStale === undefined) await rm(join(directory, name), { force: true });
    else deferStale.push(fileNamePattern(name));
  }
}

/** A promise that rejects with the signal's reason once it aborts; never settles otherwise. */
function abortedPromise(signal: AbortSignal | undefined): { promise: Promise<never>; forget: () => void } {
  if (signal === undefined) return { promise: new Promise<never>(() => {}), forget: () => {} };
  let onAbort!: () => void;
  const promise = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => undefined);
  return { promise, forget: () => signal.removeEventListener('abort', onAbort) };
}

/**
 * Raw, as `mysql -r` writes it (a backslash stays one). Tab, line breaks and NUL, which no
 * MediaWiki title holds, are written `\t`, `\n`, `\r`, `\0`, so that each page keeps one line.
 */
function escapeField(value: string): string {
  return /[\t\n\r\0]/.test(value) ? value.replace(/[\t\n\r\0]/g, (c) => FIELD_ESCAPES[c]!) : value;
}

const FIELD_ESCAPES: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };
