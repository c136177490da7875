// Names and folders of dump files, as Wikimedia's dumps name them (operations-dumps
// xmldumps-backup fileutils.DumpFilename; notes §4): `<wiki>-<YYYYMMDD>-<dumpname>[<part>].<xml|txt>
// [-p<first>p<last>][.<bz2|gz|zst>]`. Names are built only from the validated wiki id, date and our
// own dump names, never from titles or other page data, so no title can become a path.
// Imports core only.

import { JobError } from '../core/errors.js';
import { CODEC_SUFFIX, COMPRESSED_SUFFIX_SOURCE, type Codec } from './compress.js';

/** Wikimedia database names: lowercase letters, digits and underscores (`enwiki`, `be_x_oldwiki`). */
const WIKI_ID = /^[a-z0-9_]{1,64}$/;
const DATE = /^(\d{4})(\d{2})(\d{2})$/;

/** Suffix of a file while it is being written; renamed away on success, removed on failure. */
export const IN_PROGRESS_SUFFIX = '.inprog';

export function checkWikiId(wikiId: string): string {
  if (!WIKI_ID.test(wikiId)) {
    throw new JobError('USAGE', `invalid wiki id ${JSON.stringify(wikiId)}: expected a database name of lowercase letters, digits and underscores`);
  }
  return wikiId;
}

/** Parses YYYYMMDD into the epoch ms of that day's 00:00 UTC, the run's exclusive cutoff. */
export function cutoffOfDate(date: string): number {
  const match = DATE.exec(date);
  if (match !== null) {
    const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
    const ms = Date.UTC(year, month - 1, day);
    const back = new Date(ms);
    if (back.getUTCFullYear() === year && back.getUTCMonth() === month - 1 && back.getUTCDate() === day) return ms;
  }
  throw new JobError('USAGE', `invalid dump date ${JSON.stringify(date)}: expected a calendar date as YYYYMMDD`);
}

/** YYYYMMDD of the UTC day `days` after `date` (negative for before). */
export function addDays(date: string, days: number): string {
  return new Date(cutoffOfDate(date) + days * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
}

/** The page range of a part file, or undefined for an output written as a single file. */
export interface PartRange {
  readonly partNumber: number;
  readonly firstPageId: number;
  readonly lastPageId: number;
}

/**
 * `enwiki-20240101-pages-meta-history1.xml-p1p812.bz2`, or without part and range
 * (`enwiki-20240101-pages-meta-history.xml.bz2`) when the output is one file.
 */
export function dumpFileName(wikiId: string, date: string, dumpName: string, fileType: 'xml' | 'txt', codec: Codec, range?: PartRange): string {
  const base = `${wikiId}-${date}-${dumpName}`;
  if (range === undefined) return `${base}.${fileType}${CODEC_SUFFIX[codec]}`;
  return `${base}${range.partNumber}.${fileType}-p${range.firstPageId}p${range.lastPageId}${CODEC_SUFFIX[codec]}`;
}

const partName = new RegExp(`\\d\\.(xml|txt)-p\\d+p\\d+${COMPRESSED_SUFFIX_SOURCE}?$`);

/** Whether `name` is a part's (dumpFileName with a range). */
export function isPartFileName(name: string): boolean {
  return partName.test(name);
}

/** The in-progress name of part `partNumber` (its page range is known only when it is complete). */
export function inProgressFileName(wikiId: string, date: string, dumpName: string, fileType: 'xml' | 'txt', codec: Codec, partNumber: number): string {
  return `${wikiId}-${date}-${dumpName}${partNumber}.${fileType}${CODEC_SUFFIX[codec]}${IN_PROGRESS_SUFFIX}`;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');

/** Matches exactly the file `name`. */
export function fileNamePattern(name: string): RegExp {
  return new RegExp(`^${escapeRegExp(name)}$`);
}

/** Matches every file a run of `dumpName` may leave: final single or part names and in-progress names. */
export function dumpFilePattern(wikiId: string, date: string, dumpName: string, fileType: 'xml' | 'txt'): RegExp {
  const escaped = escapeRegExp(`${wikiId}-${date}-${dumpName}`);
  return new RegExp(`^${escaped}(\\d+)?\\.${fileType}(-p\\d+p\\d+)?${COMPRESSED_SUFFIX_SOURCE}?(${IN_PROGRESS_SUFFIX.replace('.', '\\.')})?$`);
}

/** `<dumps_root>/<wiki>/<YYYYMMDD>` */
export function runDirectory(dumpsRoot: string, wikiId: string, date: string): string {
  return `${dumpsRoot}/${checkWikiId(wikiId)}/${date}`;
}

/** `<dumps_root>/other/incr/<wiki>/<YYYYMMDD>` */
export function incrementalDirectory(dumpsRoot: string, wikiId: string, date: string): string {
  return `${dumpsRoot}/other/incr/${checkWikiId(wikiId)}/${date}`;
}

/** `enwiki-20240101-pages-articles.xml.bz2` → `enwiki-latest-pages-articles.xml.bz2`. */
export function latestFileName(wikiId: string, date: string, fileName: string): string | undefined {
  const prefix = `${wikiId}-${date}-`;
  return fileName.startsWith(prefix) ? `${wikiId}-latest-${fileName.slice(prefix.length)}` : undefined;
}
