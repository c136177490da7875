// Adds-changes (incremental) dumps for one wiki and day under `<dumps_root>/other/incr/<wiki>/
// <YYYYMMDD>/` (operations-dumps xmldumps-backup incr_dumps.py, README.incr.txt; notes §4):
// maxrevid.txt, `<wiki>-<date>-stubs-meta-hist-incr.xml.gz`, `<wiki>-<date>-pages-meta-hist-incr.xml.bz2`,
// `<wiki>-<date>-md5sums.txt` (`<md5> *<file>` lines for those three) and status.txt ("done"), holding the
// revisions with previous maxrevid < rev_id <= this day's maxrevid, and prevmaxrevid.txt (not
// legacy: that previous maxrevid). Like the legacy job it records
// no deletions, moves or visibility changes, and keeps the maxrevid.txt an earlier attempt of the
// day wrote ("generate the max rev id if it isn't already present"). Imports core and dumps modules.

import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { onInterrupt } from '../core/interrupt.js';
import { silentLogger, type Logger } from '../core/log.js';
import { makeDirectory } from '../core/make-directory.js';
import { writeTextAtomically } from './atomic-file.js';
import { findCompressionTools, type CompressionTools } from './compress.js';
import { addDays, checkWikiId, cutoffOfDate, incrementalDirectory } from './file-names.js';
import type { DumpRevisionRow, DumpSource } from './records.js';
import type { SiteInfo } from './site-info.js';
import { writeXmlDump, type WrittenFile, type XmlDumpOptions } from './xml-dump.js';
import { generatorText } from './xml-render.js';

export const MAX_REVID_FILE = 'maxrevid.txt';
/**
 * Not legacy: the maxrevid a run's range starts after. A date dumped after a later one completed
 * (a date left behind, filled in) ends there, since that later range already holds what follows.
 */
export const PREV_MAX_REVID_FILE = 'prevmaxrevid.txt';
export const STATUS_FILE = 'status.txt';

export interface IncrementalRunOptions {
  readonly dumpsRoot: string;
  readonly wikiId: string;
  /** YYYYMMDD; maxrevid is the newest revision by time (records.ts) before that day's 00:00 UTC − delay. */
  readonly date: string;
  readonly source: DumpSource;
  readonly site: SiteInfo;
  readonly generatorVersion: string;
  /**
   * Seconds subtracted from the cutoff, giving editors time to hide bad content before it is
   * published (production's legacy job used 43200). Default 0: the range then ends where the full
   * dump of the same date ends.
   */
  readonly delaySeconds?: number;
  readonly tools?: CompressionTools;
  /** Told (info) when the day's range is kept from its earlier run; default silent. */
  readonly logger?: Logger;
}

export interface IncrementalRunResult {
  readonly directory: string;
  /** Revisions with afterRevisionId < rev_id <= maxRevisionId are in the files. */
  readonly afterRevisionId: number;
  readonly maxRevisionId: number;
  /** Whether maxRevisionId is the one an earlier attempt of this day wrote to maxrevid.txt. */
  readonly maxRevisionIdKept: boolean;
  readonly files: readonly WrittenFile[];
}

const DATE_DIRECTORY = /^\d{8}$/;

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** The revision id a file of a run holds (maxrevid.txt, prevmaxrevid.txt), if it is there and one. */
async function readRevisionId(path: string): Promise<number | undefined> {
  const text = await readTrimmed(path);
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

/** The run folders of completed runs before `date` (newest first) or after it (oldest first). */
async function* completedRuns(wikiDirectory: string, date: string, side: 'before' | 'after'): AsyncIterable<string> {
  let dates: string[];
  try {
    dates = (await readdir(wikiDirectory)).filter((name) => DATE_DIRECTORY.test(name) && (side === 'before' ? name < date : name > date)).sort();
  } catch {
    return;
  }
  for (const other of side === 'before' ? dates.reverse() : dates) {
    if ((await readTrimmed(join(wikiDirectory, other, STATUS_FILE))) === 'done') yield join(wikiDirectory, other);
  }
}

/** maxrevid.txt of the newest completed run before `date`, if any (legacy get_prev_incrdate). */
async function previousMaxRevisionId(wikiDirectory: string, date: string): Promise<number | undefined> {
  for await (const run of completedRuns(wikiDirectory, date, 'before')) {
    const id = await readRevisionId(join(run, MAX_REVID_FILE));
    if (id !== undefined) return id;
  }
  return undefined;
}

/**
 * Where the range of the nearest completed run after `date` starts (its prevmaxrevid.txt), if it
 * has one: a run written before that file existed caps nothing.
 */
async function nextRangeStart(wikiDirectory: string, date: string): Promise<number | undefined> {
  for await (const run of completedRuns(wikiDirectory, date, 'after')) return readRevisionId(join(run, PREV_MAX_REVID_FILE));
  return undefined;
}

/** The rows, until `stop.reason` is set: then the next row throws it. */
async function* untilStopped(rows: AsyncIterable<DumpRevisionRow>, stop: { readonly reason?: unknown }): AsyncIterable<DumpRevisionRow> {
  for await (const row of rows) {
    if (stop.reason !== undefined) throw stop.reason;
    yield row;
  }
  if (stop.reason !== undefined) throw stop.reason;
}

/** Whether the adds-changes run of `date` completed (its status.txt says done). */
export async function isIncrementalDone(dumpsRoot: string, wikiId: string, date: string): Promise<boolean> {
  return (await readTrimmed(join(incrementalDirectory(dumpsRoot, checkWikiId(wikiId), date), STATUS_FILE))) === 'done';
}

/**
 * Writes the adds-changes files for one day. The range starts after the maxrevid of the newest
 * completed earlier run (so consecutive runs neither overlap nor leave gaps), or, without one, where
 * an earlier attempt of the day started it, else after the maxrevid the source reports for the day
 * before. It ends at the maxrevid.txt an earlier attempt
 * of the day wrote, if any, else at the source's maxrevid for the day (then written down); never
 * past where the nearest completed later run's range starts (a date filled in after it).
 */
export async function runIncrementalDump(options: IncrementalRunOptions): Promise<IncrementalRunResult> {
  const wikiId = checkWikiId(options.wikiId);
  const { date, source, site } = options;
  const delayMs = (options.delaySeconds ?? 0) * 1000;
  const cutoffMs = cutoffOfDate(date) - delayMs;
  const tools = options.tools ?? findCompressionTools();
  const generator = generatorText(options.generatorVersion);
  const directory = incrementalDirectory(options.dumpsRoot, wikiId, date);
  await makeDirectory(directory);
  // A rerun must not leave an earlier "done", or checksums of files it is about to replace or
  // remove, beside them should it fail.
  const md5sums = join(directory, `${wikiId}-${date}-md5sums.txt`);
  await rm(join(directory, STATUS_FILE), { force: true });
  await rm(md5sums, { force: true });

  // The day's end, once written, is kept (legacy incr_dumps.py: "generate the max rev id if it isn't
  // already present"). The next day's range, perhaps done already, starts after it; recomputed, a
  // revision merged late (before the cutoff, in the same second as the day's newest) could move it
  // up into that range, and the days would overlap. maxrevid.txt is written atomically and only by
  // this date's attempts: present, it is the end an earlier attempt that got that far chose (done,
  // failed or killed after); one killed before left none, and this attempt computes it. Kept, it is
  // logged at info; a rerun then keeps its range even if the delay changed since.
  const maxRevIdFile = join(directory, MAX_REVID_FILE);
  const kept = await readRevisionId(maxRevIdFile);
  const newest = kept ?? (await source.maxRevisionId(wikiId, cutoffMs)) ?? 0;
  const wikiDirectory = join(options.dumpsRoot, 'other', 'incr', wikiId);
  // Without a completed earlier run, the start an earlier attempt of the day chose is kept as its
  // end is: recomputed, a changed delay or a revision merged late at the boundary would move it,
  // and revisions below it would be in no date.
  const previous =
    (await previousMaxRevisionId(wikiDirectory, date)) ??
    (kept === undefined ? undefined : await readRevisionId(join(directory, PREV_MAX_REVID_FILE))) ??
    (await source.maxRevisionId(wikiId, cutoffOfDate(addDays(date, -1)) - delayMs)) ??
    0;
  // A date filled in after a later one completed: that one's range, which started after the
  // completed run before this date, holds this date's revisions already.
  const next = await nextRangeStart(wikiDirectory, date);
  // Never backwards: when the revisions above the previous maxrevid were deleted since, a smaller
  // one recorded here would make the next day dump again those that come back (undeletes, imports).
  const maxRevisionId = Math.max(previous, next === undefined ? newest : Math.min(newest, next));
  const afterRevisionId = previous;
  const maxRevisionIdKept = maxRevisionId === kept;
  if (maxRevisionIdKept) {
    (options.logger ?? silentLogger()).info(
      { wiki: wikiId, date, afterRevisionId, maxRevisionId },
      `adds-changes: ${wikiId} ${date} keeps the range of its earlier run, up to its maxrevid.txt (${maxRevisionId}), where the next date's range starts`,
    );
  } else {
    await writeTextAtomically(maxRevIdFile, `${maxRevisionId}`);
  }
  await writeTextAtomically(join(directory, PREV_MAX_REVID_FILE), `${afterRevisionId}`);

  const common = { directory, wikiId, date, site, generator, maxPartBytes: Infinity, tools };
  // SIGTERM stops the file being written at its next row, so that it removes its in-progress file
  // before the process exits (the cleanup waits for it), as a failure would.
  const stop: { reason?: unknown } = {};
  let writing: Promise<unknown> = Promise.resolve();
  const forgetInterrupt = onInterrupt(async (reason) => {
    stop.reason = reason;
    await writing.catch(() => undefined);
  });
  const write = (includeContent: boolean, options: Pick<XmlDumpOptions, 'dumpName' | 'codec' | 'mode'>): Promise<WrittenFile[]> => {
    if (stop.reason !== undefined) throw stop.reason;
    const run = writeXmlDump(untilStopped(source.revisionsInIdRange(wikiId, afterRevisionId, maxRevisionId, includeContent), stop), { ...common, ...options });
    writing = run;
    return run;
  };
  let stubs: WrittenFile[];
  let pages: WrittenFile[];
  try {
    stubs = await write(false, { dumpName: 'stubs-meta-hist-incr', codec: 'gz', mode: 'stub' });
    pages = await write(true, { dumpName: 'pages-meta-hist-incr', codec: 'bz2', mode: 'full' });
  } finally {
    forgetInterrupt();
  }
  const files = [...stubs, ...pages];
  // Legacy lists maxrevid.txt first, then the stubs and pages (miscdumplib get_output_files).
  const maxRevIdMd5 = createHash('md5').update(await readFile(maxRevIdFile)).digest('hex');
  const sums = [{ md5: maxRevIdMd5, name: MAX_REVID_FILE }, ...files];
  await writeTextAtomically(md5sums, sums.map((file) => `${file.md5} *${file.name}`).join('\n'));
  await writeTextAtomically(join(directory, STATUS_FILE), 'done');
  return { directory, afterRevisionId, maxRevisionId, maxRevisionIdKept, files };
}
